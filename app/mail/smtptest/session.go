package smtptest

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// session is one client's conversation; go-smtp speaks the protocol and
// starts a new session after STARTTLS, which forgets any earlier AUTH.
type session struct {
	srv      *Server
	conn     *smtp.Conn
	authUser string
	from     string
	to       []string
}

var (
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	errNoSuchUser   = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
)

func (c *session) AuthMechanisms() []string {
	if c.srv.opts.Username == "" {
		return nil
	}
	return c.srv.opts.AuthMechanisms
}

func (c *session) Auth(mech string) (sasl.Server, error) {
	if !slices.Contains(c.AuthMechanisms(), mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, password string) error { return c.login(user, password) }), nil
	case sasl.Login:
		return &loginServer{s: c}, nil
	case "CRAM-MD5":
		return &cramMD5Server{s: c}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (c *session) login(user, password string) error {
	if user != c.srv.opts.Username || password != c.srv.opts.Password {
		return smtp.ErrAuthFailed
	}
	c.authUser = user
	return nil
}

func (c *session) Mail(from string, _ *smtp.MailOptions) error {
	time.Sleep(c.srv.opts.Delay)
	if c.srv.opts.Username != "" && c.authUser == "" {
		return errAuthRequired
	}
	c.from = from
	return nil
}

func (c *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	time.Sleep(c.srv.opts.Delay)
	if slices.Contains(c.srv.opts.RejectRecipients, to) {
		return errNoSuchUser
	}
	c.to = append(c.to, to)
	return nil
}

func (c *session) Data(r io.Reader) error {
	time.Sleep(c.srv.opts.Delay)
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, tls := c.conn.TLSConnectionState()
	c.srv.record(Received{From: c.from, To: c.to, Data: data, TLS: tls, AuthUser: c.authUser})
	return nil
}

func (c *session) Reset()        { c.from, c.to = "", nil }
func (c *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl only has as a
// client: it asks for the username, then the password.
type loginServer struct {
	s    *session
	step int
	user string
}

func (a *loginServer) Next(response []byte) ([]byte, bool, error) {
	if a.step == 0 && response != nil {
		a.step++ // the username came as an initial response
	}
	a.step++
	switch a.step {
	case 1:
		return []byte("Username:"), false, nil
	case 2:
		a.user = string(response)
		return []byte("Password:"), false, nil
	}
	return nil, true, a.s.login(a.user, string(response))
}

// cramMD5Server is the server side of AUTH CRAM-MD5 (RFC 2195): the client
// answers a fresh challenge with its username and HMAC-MD5(password, challenge).
type cramMD5Server struct {
	s         *session
	challenge []byte
}

func (a *cramMD5Server) Next(response []byte) ([]byte, bool, error) {
	if a.challenge == nil {
		a.challenge = []byte("<" + rand.Text() + "@smtptest>")
		return a.challenge, false, nil
	}
	user, digest, _ := strings.Cut(string(response), " ")
	mac := hmac.New(md5.New, []byte(a.s.srv.opts.Password))
	mac.Write(a.challenge)
	if user != a.s.srv.opts.Username || !hmac.Equal([]byte(digest), []byte(hex.EncodeToString(mac.Sum(nil)))) {
		return nil, true, smtp.ErrAuthFailed
	}
	a.s.authUser = user
	return nil, true, nil
}
