package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"apisec/app/mail/smtptest"
)

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func mustAddress(t *testing.T, s string) *netmail.Address {
	t.Helper()
	a, err := netmail.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// newMailer returns an SMTP mailer pointed at srv.
func newMailer(t *testing.T, srv *smtptest.Server, change func(*SMTPConfig)) *SMTP {
	t.Helper()
	cfg := SMTPConfig{Host: srv.Host(), Port: srv.Port(), From: "Example App <noreply@example.com>", Timeout: 5 * time.Second}
	if change != nil {
		change(&cfg)
	}
	m, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSMTPDeliversAVerificationEmail(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	mailer := newMailer(t, srv, nil)
	msg := VerificationMessage("https://app.example.com/", "Ann <ann@example.com>", "tok/en+1")
	if err := mailer.Send(t.Context(), msg); err != nil {
		t.Fatal(err)
	}

	got := srv.WaitMessage(t, 5*time.Second)
	if got.From != "noreply@example.com" || len(got.To) != 1 || got.To[0] != "ann@example.com" {
		t.Errorf("envelope from %q to %q", got.From, got.To)
	}
	h := got.Header
	for name, want := range map[string]string{
		"From":                      `"Example App" <noreply@example.com>`,
		"To":                        `"Ann" <ann@example.com>`,
		"Subject":                   "Verify your e-mail address",
		"Mime-Version":              "1.0",
		"Content-Type":              "text/plain; charset=UTF-8",
		"Content-Transfer-Encoding": "7bit",
	} {
		if h.Get(name) != want {
			t.Errorf("header %s = %q, want %q", name, h.Get(name), want)
		}
	}
	if date, err := h.Date(); err != nil || time.Since(date).Abs() > time.Minute {
		t.Errorf("Date header %q: %v", h.Get("Date"), err)
	}
	if id := h.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID %q", id)
	}
	if want := "https://app.example.com/auth/verify?token=tok%2Fen%2B1"; !strings.Contains(got.Body, want) {
		t.Errorf("body %q lacks link %s", got.Body, want)
	}
	if got.TLS || got.AuthUser != "" {
		t.Errorf("TLS %v, auth %q on a plain server", got.TLS, got.AuthUser)
	}
}

func TestSMTPKeepsUnicodeAndLeadingDotsIntact(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	text := "Grüße!\n.\n..two dots\n.one dot\nend"
	err := newMailer(t, srv, nil).Send(t.Context(), Message{To: "ann@example.com", Subject: "Héllo ✓", Text: text})
	if err != nil {
		t.Fatal(err)
	}
	got := srv.WaitMessage(t, 5*time.Second)
	if got.Subject != "Héllo ✓" {
		t.Errorf("subject %q", got.Subject)
	}
	if want := text + "\n"; got.Body != want {
		t.Errorf("body %q, want %q", got.Body, want)
	}
}

func TestSMTPUsesSTARTTLSAndChecksTheCertificate(t *testing.T) {
	t.Parallel()
	serverTLS, roots := smtptest.NewTLS(t)
	srv := smtptest.StartWith(t, smtptest.Options{TLS: serverTLS})

	trusting := newMailer(t, srv, func(c *SMTPConfig) { c.TLS = &tls.Config{RootCAs: roots} })
	if err := trusting.Send(t.Context(), Message{To: "ann@example.com", Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	if got := srv.WaitMessage(t, 5*time.Second); !got.TLS {
		t.Error("message was not sent over TLS")
	}

	// Default config: the self-signed certificate is not trusted, and the
	// mailer must not fall back to plain text.
	strict := newMailer(t, srv, nil)
	err := strict.Send(t.Context(), Message{To: "ann@example.com", Subject: "s", Text: "t"})
	if !errors.As(err, new(x509.UnknownAuthorityError)) {
		t.Fatalf("got %v, want an untrusted certificate error", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("server holds %d messages, want 1", n)
	}
}

func TestSMTPRefusesACertificateForAnotherHost(t *testing.T) {
	t.Parallel()
	for _, implicit := range []bool{false, true} {
		serverTLS, roots := smtptest.NewTLS(t, "mail.example.org")
		srv := smtptest.StartWith(t, smtptest.Options{TLS: serverTLS, ImplicitTLS: implicit})
		mailer := newMailer(t, srv, func(c *SMTPConfig) { c.TLS, c.ImplicitTLS = &tls.Config{RootCAs: roots}, implicit })
		err := mailer.Send(t.Context(), Message{To: "ann@example.com", Subject: "s", Text: "t"})
		if !errors.As(err, new(x509.HostnameError)) {
			t.Fatalf("implicit TLS %v: got %v, want a certificate name error", implicit, err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("implicit TLS %v: server holds %d messages, want 0", implicit, n)
		}
	}
}

func TestSMTPSpeaksImplicitTLS(t *testing.T) {
	t.Parallel()
	serverTLS, roots := smtptest.NewTLS(t)
	srv := smtptest.StartWith(t, smtptest.Options{TLS: serverTLS, ImplicitTLS: true})
	msg := VerificationMessage("https://app.example.com", "ann@example.com", "tok")

	if err := newMailer(t, srv, func(c *SMTPConfig) { c.TLS, c.ImplicitTLS = &tls.Config{RootCAs: roots}, true }).Send(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
	if got := srv.WaitMessage(t, 5*time.Second); !got.TLS || got.To[0] != "ann@example.com" || got.Subject != msg.Subject {
		t.Errorf("TLS %v, to %v, subject %q", got.TLS, got.To, got.Subject)
	}
	// The system roots do not trust the test certificate: no message.
	err := newMailer(t, srv, func(c *SMTPConfig) { c.ImplicitTLS = true }).Send(t.Context(), msg)
	if !errors.As(err, new(x509.UnknownAuthorityError)) {
		t.Errorf("got %v, want an untrusted certificate error", err)
	}
	// A STARTTLS client waits for a greeting the TLS server never sends.
	plain := newMailer(t, srv, func(c *SMTPConfig) { c.Timeout = 300 * time.Millisecond })
	if err := plain.Send(t.Context(), msg); err == nil {
		t.Error("sent in clear text to an implicit TLS server")
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("server holds %d messages, want 1", n)
	}
}

// redirect makes m reach srv whatever host it is configured with, as DNS
// would for a remote server.
func redirect(m *SMTP, srv *smtptest.Server) {
	m.dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Addr())
	}
}

func TestSMTPAuthenticatesOverTLS(t *testing.T) {
	t.Parallel()
	const password = "s3cret-Pa55"
	for _, implicit := range []bool{false, true} {
		for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
			t.Run(fmt.Sprintf("%s implicit=%v", mech, implicit), func(t *testing.T) {
				t.Parallel()
				// A remote name: PLAIN and LOGIN go only over TLS there.
				serverTLS, roots := smtptest.NewTLS(t, "smtp.example.com")
				srv := smtptest.StartWith(t, smtptest.Options{TLS: serverTLS, ImplicitTLS: implicit,
					Username: "app", Password: password, AuthMechanisms: []string{mech}})
				send := func(password string) error {
					m := newMailer(t, srv, func(c *SMTPConfig) {
						c.Host, c.ImplicitTLS, c.TLS = "smtp.example.com", implicit, &tls.Config{RootCAs: roots}
						c.Username, c.Password = "app", password
					})
					redirect(m, srv)
					return m.Send(t.Context(), Message{To: "ann@example.com", Subject: "s", Text: "t"})
				}

				if err := send(password); err != nil {
					t.Fatal(err)
				}
				if got := srv.WaitMessage(t, 5*time.Second); got.AuthUser != "app" || !got.TLS {
					t.Errorf("auth %q, TLS %v", got.AuthUser, got.TLS)
				}
				err := send("wr0ng-Pa55")
				if err == nil || !strings.Contains(err.Error(), "535") {
					t.Errorf("wrong password: got %v, want the server's 535", err)
				} else if strings.Contains(err.Error(), "Pa55") {
					t.Errorf("the error shows the password: %v", err)
				}
				if n := len(srv.Messages()); n != 1 {
					t.Errorf("server holds %d messages, want 1", n)
				}
			})
		}
	}
}

func TestSMTPSendsWithoutTLSOnLoopbackOnly(t *testing.T) {
	t.Parallel()
	srv := smtptest.StartWith(t, smtptest.Options{Username: "app", Password: "s3cret"})
	msg := Message{To: "ann@example.com", Subject: "s", Text: "t"}
	withAuth := func(c *SMTPConfig) { c.Username, c.Password = "app", "s3cret" }

	if err := newMailer(t, srv, withAuth).Send(t.Context(), msg); err != nil {
		t.Fatalf("loopback host: %v", err)
	}
	srv.WaitMessage(t, 5*time.Second)

	// The same plain-text server under a remote name (or with STARTTLS
	// stripped on the way): neither the credentials nor the message, which
	// holds a sign-in link, go out in clear text.
	for _, cfg := range []func(*SMTPConfig){
		func(c *SMTPConfig) { withAuth(c); c.Host = "smtp.example.com" },
		func(c *SMTPConfig) { c.Host = "smtp.example.com" },
	} {
		remote := newMailer(t, srv, cfg)
		redirect(remote, srv)
		if err := remote.Send(t.Context(), msg); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("got %v, want a refusal to send in clear text", err)
		}
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("server holds %d messages, want 1", n)
	}
}

func TestSMTPReportsARejectedRecipient(t *testing.T) {
	t.Parallel()
	srv := smtptest.StartWith(t, smtptest.Options{RejectRecipients: []string{"nobody@example.com"}})
	err := newMailer(t, srv, nil).Send(t.Context(), Message{To: "nobody@example.com", Subject: "s", Text: "t"})
	if err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("got %v, want the server's 550", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server holds %d messages, want 0", n)
	}
}

func TestSMTPFailsFastWhenNothingListens(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	mailer, err := NewSMTP(SMTPConfig{Host: addr.IP.String(), Port: addr.Port, From: "a@example.com", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := mailer.Send(t.Context(), Message{To: "b@example.com"}); err == nil {
		t.Fatal("sent to a closed port")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v, more than the timeout", d)
	}
}

// silentServer accepts connections and never answers, like a server that hangs.
func silentServer(t *testing.T) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
			close(done)
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().(*net.TCPAddr)
}

func TestSMTPGivesUpOnASilentServerAfterTheTimeout(t *testing.T) {
	t.Parallel()
	addr := silentServer(t)
	mailer, err := NewSMTP(SMTPConfig{Host: addr.IP.String(), Port: addr.Port, From: "a@example.com", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = mailer.Send(t.Context(), Message{To: "b@example.com"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v with a 200ms timeout", d)
	}
}

func TestSMTPTimeoutBoundsTheWholeConversation(t *testing.T) {
	t.Parallel()
	// Each answer comes well within the timeout; all of them do not.
	srv := smtptest.StartWith(t, smtptest.Options{Delay: 250 * time.Millisecond})
	mailer := newMailer(t, srv, func(c *SMTPConfig) { c.Timeout = 500 * time.Millisecond })
	start := time.Now()
	err := mailer.Send(t.Context(), Message{To: "b@example.com"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v with a 500ms timeout", d)
	}
}

func TestSMTPStopsWhenTheContextIsCancelled(t *testing.T) {
	t.Parallel()
	addr := silentServer(t)
	mailer, err := NewSMTP(SMTPConfig{Host: addr.IP.String(), Port: addr.Port, From: "a@example.com", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err = mailer.Send(ctx, Message{To: "b@example.com"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v after cancel", d)
	}
}

func TestSMTPRejectsHeaderInjection(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	mailer := newMailer(t, srv, nil)
	for _, m := range []Message{
		{To: "ann@example.com\r\nBcc: eve@example.com", Subject: "s"},
		{To: "ann@example.com\nBcc: eve@example.com", Subject: "s"},
		{To: "ann@example.com", Subject: "hi\r\nBcc: eve@example.com"},
		{To: "ann@example.com", Subject: "hi\nX-Evil: 1"},
	} {
		if err := mailer.Send(t.Context(), m); !errors.Is(err, ErrHeaderInjection) {
			t.Errorf("Send(%q, %q) = %v, want ErrHeaderInjection", m.To, m.Subject, err)
		}
	}
	if err := mailer.Send(t.Context(), Message{To: "not an address"}); err == nil {
		t.Error("sent to an invalid address")
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server received %d messages, want 0", n)
	}
}

func TestNewSMTPChecksItsConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []SMTPConfig{
		{From: "a@example.com"},
		{Host: "smtp.example.com", From: "a@example.com", Port: 70000},
		{Host: "smtp.example.com"},
		{Host: "smtp.example.com", From: "a@example.com\r\nBcc: eve@example.com"},
	} {
		if _, err := NewSMTP(cfg); err == nil {
			t.Errorf("NewSMTP(%+v) succeeded, want an error", cfg)
		}
	}
	m, err := NewSMTP(SMTPConfig{Host: "smtp.example.com", From: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if m.cfg.Port != 587 || m.cfg.ImplicitTLS || m.cfg.Timeout != 10*time.Second || m.cfg.TLS.ServerName != "smtp.example.com" {
		t.Errorf("defaults: %+v", m.cfg)
	}
	if m, err := NewSMTP(SMTPConfig{Host: "smtp.example.com", Port: 465, From: "a@example.com"}); err != nil || !m.cfg.ImplicitTLS {
		t.Errorf("port 465: implicit TLS %v, error %v", m != nil && m.cfg.ImplicitTLS, err)
	}
}
