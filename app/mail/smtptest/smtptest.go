// Package smtptest runs an SMTP server (go-smtp's) on loopback for tests:
// STARTTLS or implicit TLS, AUTH PLAIN, LOGIN or CRAM-MD5 when asked for,
// and it records what it receives so a test can read the e-mail its code
// sent.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"io"
	"log"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Options changes what the server offers and refuses.
type Options struct {
	// TLS, when set, makes the server offer STARTTLS with this config, or
	// speak TLS from the first byte if ImplicitTLS is set too.
	TLS         *tls.Config
	ImplicitTLS bool
	// Username and Password, when set, make the server offer AUTH (after
	// TLS if TLS is set) and refuse MAIL until a client authenticates with
	// them.
	Username, Password string
	// AuthMechanisms are the mechanisms offered: PLAIN, LOGIN, CRAM-MD5;
	// PLAIN when empty.
	AuthMechanisms []string
	// RejectRecipients are answered "550 no such user" at RCPT.
	RejectRecipients []string
	// Delay holds each answer to MAIL, RCPT and DATA, as a slow server does.
	Delay time.Duration
}

// Received is one message the server accepted.
type Received struct {
	From     string      // envelope sender (MAIL FROM)
	To       []string    // envelope recipients (RCPT TO)
	Data     []byte      // the message as sent, dot-unstuffed, CRLF line endings kept
	Header   mail.Header // parsed headers; nil if Data did not parse
	Subject  string      // the Subject header, RFC 2047 decoded
	Body     string      // the body, any quoted-printable decoded, lines ending in "\n"
	TLS      bool        // whether the message came over TLS
	AuthUser string      // who authenticated, if anyone
}

// Server is a running test SMTP server.
type Server struct {
	opts   Options
	ln     net.Listener
	smtp   *smtp.Server
	served chan struct{}

	mu       sync.Mutex
	messages []Received
	next     int           // first message WaitMessage has not returned yet
	arrived  chan struct{} // closed, and replaced, when a message arrives
}

// Start runs a plain server (no TLS, no AUTH) on 127.0.0.1 until tb ends.
func Start(tb testing.TB) *Server { return StartWith(tb, Options{}) }

// StartWith runs a server with opts on 127.0.0.1 until tb ends.
func StartWith(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if len(opts.AuthMechanisms) == 0 {
		opts.AuthMechanisms = []string{"PLAIN"}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtptest: listen: %v", err)
	}
	s := &Server{opts: opts, ln: ln, served: make(chan struct{}), arrived: make(chan struct{})}
	s.smtp = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	s.smtp.Domain = "smtptest"
	s.smtp.AllowInsecureAuth = opts.TLS == nil
	// A client that stalls must not hold the test up forever.
	s.smtp.ReadTimeout, s.smtp.WriteTimeout = 30*time.Second, 30*time.Second
	s.smtp.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are what some tests want
	if opts.ImplicitTLS {
		ln = tls.NewListener(ln, opts.TLS)
	} else {
		s.smtp.TLSConfig = opts.TLS
	}
	go func() {
		defer close(s.served)
		s.smtp.Serve(ln)
	}()
	tb.Cleanup(func() {
		s.smtp.Close()
		ln.Close() // Close misses a listener that Serve has not registered yet
		<-s.served
	})
	return s
}

// Addr is the server's "host:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host is the server's IP address, "127.0.0.1".
func (s *Server) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Messages returns every message received so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// WaitMessage returns the oldest message it has not returned before,
// waiting up to timeout for one to arrive; it fails tb if none does.
func (s *Server) WaitMessage(tb testing.TB, timeout time.Duration) Received {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if s.next < len(s.messages) {
			m := s.messages[s.next]
			s.next++
			s.mu.Unlock()
			return m
		}
		arrived := s.arrived
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline.C:
			tb.Fatalf("smtptest: no message arrived within %v", timeout)
			return Received{}
		}
	}
}

func (s *Server) record(r Received) {
	r.Header, r.Subject, r.Body = parse(r.Data)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, r)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// parse splits a message into headers, decoded subject and decoded body.
func parse(data []byte) (mail.Header, string, string) {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return nil, "", string(data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		subject = msg.Header.Get("Subject")
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, _ := io.ReadAll(body)
	return msg.Header, subject, strings.ReplaceAll(string(b), "\r\n", "\n")
}
