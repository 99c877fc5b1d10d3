package smtptest

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/textproto"
	"slices"
	"strings"
)

// session is one client connection's SMTP conversation.
type session struct {
	srv  *Server
	conn net.Conn
	text *textproto.Conn

	tls      bool
	authUser string
	from     string
	to       []string
	hasFrom  bool
}

func (c *session) reply(code int, msg string) bool {
	return c.text.PrintfLine("%d %s", code, msg) == nil
}

func (c *session) run() {
	c.text = textproto.NewConn(c.conn)
	if !c.reply(220, "smtptest ESMTP ready") {
		return
	}
	for {
		line, err := c.text.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			c.reset()
			c.ehlo(strings.ToUpper(verb) == "EHLO")
		case "STARTTLS":
			if !c.offersTLS() {
				c.reply(502, "5.5.1 STARTTLS not offered")
				continue
			}
			if !c.startTLS() {
				return
			}
		case "AUTH":
			c.auth(arg)
		case "MAIL":
			c.mail(arg)
		case "RCPT":
			c.rcpt(arg)
		case "DATA":
			if !c.data() {
				return
			}
		case "RSET":
			c.reset()
			c.reply(250, "2.0.0 OK")
		case "NOOP":
			c.reply(250, "2.0.0 OK")
		case "QUIT":
			c.reply(221, "2.0.0 Bye")
			return
		default:
			c.reply(502, "5.5.2 Command not recognised")
		}
	}
}

func (c *session) offersTLS() bool { return c.srv.opts.TLS != nil && !c.tls }
func (c *session) offersAuth() bool {
	return c.srv.opts.Username != "" && (c.srv.opts.TLS == nil || c.tls)
}

func (c *session) reset() { c.from, c.to, c.hasFrom = "", nil, false }

func (c *session) ehlo(extended bool) {
	if !extended {
		c.reply(250, "smtptest")
		return
	}
	lines := []string{"smtptest", "PIPELINING"}
	if c.offersTLS() {
		lines = append(lines, "STARTTLS")
	}
	if c.offersAuth() {
		lines = append(lines, "AUTH PLAIN")
	}
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		c.text.PrintfLine("250%s%s", sep, l)
	}
}

func (c *session) startTLS() bool {
	if !c.reply(220, "2.0.0 Ready to start TLS") {
		return false
	}
	tc := tls.Server(c.conn, c.srv.opts.TLS)
	if err := tc.Handshake(); err != nil {
		return false
	}
	// RFC 3207: everything learnt before TLS is forgotten.
	c.conn, c.text, c.tls = tc, textproto.NewConn(tc), true
	c.reset()
	return true
}

func (c *session) auth(arg string) {
	mech, initial, _ := strings.Cut(arg, " ")
	if !c.offersAuth() || !strings.EqualFold(mech, "PLAIN") {
		c.reply(504, "5.5.4 Unrecognised authentication type")
		return
	}
	if c.authUser != "" {
		c.reply(503, "5.5.1 Already authenticated")
		return
	}
	if initial == "" {
		c.text.PrintfLine("334 ")
		line, err := c.text.ReadLine()
		if err != nil {
			return
		}
		initial = line
	}
	raw, err := base64.StdEncoding.DecodeString(initial)
	if err != nil {
		c.reply(501, "5.5.2 Cannot decode response")
		return
	}
	// PLAIN is authzid NUL authcid NUL password.
	parts := bytes.Split(raw, []byte{0})
	if len(parts) != 3 || string(parts[1]) != c.srv.opts.Username || string(parts[2]) != c.srv.opts.Password {
		c.reply(535, "5.7.8 Authentication credentials invalid")
		return
	}
	c.authUser = string(parts[1])
	c.reply(235, "2.7.0 Authentication successful")
}

// path extracts the address from "FROM:<a@b> PARAMS" or "TO:<a@b>".
func path(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if !strings.HasPrefix(rest, "<") {
		return "", false
	}
	addr, _, ok := strings.Cut(rest[1:], ">")
	return addr, ok
}

func (c *session) mail(arg string) {
	if c.srv.opts.Username != "" && c.authUser == "" {
		c.reply(530, "5.7.0 Authentication required")
		return
	}
	if c.hasFrom {
		c.reply(503, "5.5.1 Nested MAIL command")
		return
	}
	addr, ok := path(arg, "FROM:")
	if !ok {
		c.reply(501, "5.5.4 Syntax: MAIL FROM:<address>")
		return
	}
	c.from, c.hasFrom = addr, true
	c.reply(250, "2.1.0 OK")
}

func (c *session) rcpt(arg string) {
	if !c.hasFrom {
		c.reply(503, "5.5.1 Need MAIL first")
		return
	}
	addr, ok := path(arg, "TO:")
	if !ok || addr == "" {
		c.reply(501, "5.5.4 Syntax: RCPT TO:<address>")
		return
	}
	if slices.Contains(c.srv.opts.RejectRecipients, addr) {
		c.reply(550, "5.1.1 No such user")
		return
	}
	c.to = append(c.to, addr)
	c.reply(250, "2.1.5 OK")
}

func (c *session) data() bool {
	if len(c.to) == 0 {
		c.reply(503, "5.5.1 Need RCPT first")
		return true
	}
	if !c.reply(354, "End data with <CR><LF>.<CR><LF>") {
		return false
	}
	data, err := c.text.ReadDotBytes()
	if err != nil {
		return false
	}
	c.srv.record(Received{From: c.from, To: c.to, Data: data, TLS: c.tls, AuthUser: c.authUser})
	c.reset()
	return c.reply(250, "2.0.0 OK: queued")
}
