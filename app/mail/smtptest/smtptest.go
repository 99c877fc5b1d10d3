// Package smtptest runs a small SMTP server on loopback for tests: it speaks
// EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA and QUIT, and records what it
// receives so a test can read the e-mail its code sent.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options changes what the server offers and refuses.
type Options struct {
	// TLS, when set, makes the server offer STARTTLS with this config.
	TLS *tls.Config
	// Username and Password, when set, make the server offer AUTH PLAIN
	// (after STARTTLS if TLS is set) and refuse MAIL until a client
	// authenticates with them.
	Username, Password string
	// RejectRecipients are answered "550 no such user" at RCPT.
	RejectRecipients []string
}

// Received is one message the server accepted.
type Received struct {
	From     string      // envelope sender (MAIL FROM)
	To       []string    // envelope recipients (RCPT TO)
	Data     []byte      // the message as sent, dot-unstuffed, lines ending in "\n"
	Header   mail.Header // parsed headers; nil if Data did not parse
	Subject  string      // the Subject header, RFC 2047 decoded
	Body     string      // the body, with any quoted-printable decoded
	TLS      bool        // whether STARTTLS was in effect
	AuthUser string      // who authenticated, if anyone
}

// Server is a running test SMTP server.
type Server struct {
	opts Options
	ln   net.Listener
	wg   sync.WaitGroup

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	messages []Received
	next     int           // first message WaitMessage has not returned yet
	arrived  chan struct{} // closed, and replaced, when a message arrives
}

// Start runs a plain server (no TLS, no AUTH) on 127.0.0.1 until tb ends.
func Start(tb testing.TB) *Server { return StartWith(tb, Options{}) }

// StartWith runs a server with opts on 127.0.0.1 until tb ends.
func StartWith(tb testing.TB, opts Options) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtptest: listen: %v", err)
	}
	s := &Server{opts: opts, ln: ln, conns: map[net.Conn]struct{}{}, arrived: make(chan struct{})}
	s.wg.Go(s.serve)
	tb.Cleanup(s.close)
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

func (s *Server) serve() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return // listener closed
		}
		s.mu.Lock()
		s.conns[conn] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				conn.Close()
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
			}()
			// A client that stalls must not hold the test up forever.
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			(&session{srv: s, conn: conn}).run()
		})
	}
}

func (s *Server) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
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
	return msg.Header, subject, string(b)
}
