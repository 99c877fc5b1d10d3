package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"os"
	"strconv"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPConfig says how to reach the SMTP server (the SMTP_* settings).
type SMTPConfig struct {
	Host     string
	Port     int // 587 (submission) when zero
	Username string
	Password string
	From     string        // "noreply@example.com" or "Example <noreply@example.com>"
	Timeout  time.Duration // for the whole conversation; 10s when zero

	// ImplicitTLS speaks TLS from the first byte (SMTPS, RFC 8314) instead
	// of upgrading with STARTTLS; always on for port 465.
	ImplicitTLS bool
	// TLS is used for STARTTLS or implicit TLS; nil means the system roots.
	// Its ServerName defaults to Host, so the certificate is checked
	// against Host.
	TLS *tls.Config
	// LocalName is the name sent with EHLO; "localhost" when empty.
	LocalName string
}

// authMechanisms are tried strongest first; the first the server offers is
// used. PLAIN and LOGIN reveal the password, so go-mail sends them only
// over TLS or to a loopback server.
var authMechanisms = []gomail.SMTPAuthType{
	gomail.SMTPAuthSCRAMSHA256PLUS, gomail.SMTPAuthSCRAMSHA256,
	gomail.SMTPAuthSCRAMSHA1PLUS, gomail.SMTPAuthSCRAMSHA1,
	gomail.SMTPAuthCramMD5, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin,
}

// SMTP is a Mailer that delivers through an SMTP server with go-mail:
// implicit TLS or STARTTLS (required unless the server is on loopback),
// then, when a username is configured, the strongest AUTH mechanism the
// server offers. The message is compose's, not a go-mail Msg: v0.8.1 labels
// a body 7bit yet writes it quoted-printable ("token=3D..." in a link).
type SMTP struct {
	cfg  SMTPConfig
	from *netmail.Address
	opts []gomail.Option
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// NewSMTP checks cfg and returns a Mailer that sends through it. It does
// not connect: a server that is down shows up as Send errors.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("mail: SMTP host is required")
	}
	if cfg.Port == 0 {
		cfg.Port = 587
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("mail: SMTP port %d out of range", cfg.Port)
	}
	cfg.ImplicitTLS = cfg.ImplicitTLS || cfg.Port == 465
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.LocalName == "" {
		cfg.LocalName = "localhost"
	}
	if hasLineBreak(cfg.From) || hasLineBreak(cfg.LocalName) {
		return nil, ErrHeaderInjection
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: sender address %q: %w", cfg.From, err)
	}
	if cfg.TLS == nil {
		cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	cfg.TLS = cfg.TLS.Clone()
	if cfg.TLS.ServerName == "" {
		cfg.TLS.ServerName = cfg.Host
	}

	// The message carries a sign-in link: over a network it never goes in
	// clear text, where STARTTLS could also have been stripped. Implicit TLS
	// is set up by dial, so go-mail must not look for STARTTLS as well.
	policy := gomail.TLSMandatory
	switch {
	case cfg.ImplicitTLS:
		policy = gomail.NoTLS
	case isLoopback(cfg.Host):
		policy = gomail.TLSOpportunistic
	}
	opts := []gomail.Option{
		gomail.WithPort(cfg.Port), gomail.WithTimeout(cfg.Timeout), gomail.WithHELO(cfg.LocalName),
		gomail.WithTLSPolicy(policy), gomail.WithTLSConfig(cfg.TLS),
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password),
			gomail.WithOpportunisticSMTPAuth(authMechanisms...))
	}
	return &SMTP{cfg: cfg, from: from, opts: opts, dial: (&net.Dialer{}).DialContext}, nil
}

// Send delivers m, giving up when ctx ends or the configured timeout passes.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	to, err := m.check()
	if err != nil {
		return err
	}
	msg := compose(s.from, to, m.Subject, m.Text, time.Now())

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.send(ctx, to.Address, msg); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// Connection deadlines never outlast ctx, so it is ending too;
			// wait the instant for it to say why ("i/o timeout" does not).
			<-ctx.Done()
		}
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("%w (%w)", err, cerr)
		}
		return fmt.Errorf("mail: smtp %s: %w", net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)), err)
	}
	return nil
}

func (s *SMTP) send(ctx context.Context, rcpt string, msg []byte) error {
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close() // go-mail leaves it open when the greeting, TLS or AUTH fails
		}
	}()
	dial := func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		c, err := s.dial(dialCtx, network, addr)
		if err != nil {
			return nil, err
		}
		conn = bound(c, ctx)
		if !s.cfg.ImplicitTLS {
			return conn, nil
		}
		tc := tls.Client(conn, s.cfg.TLS)
		if err := tc.HandshakeContext(dialCtx); err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		return tc, nil
	}
	client, err := gomail.NewClient(s.cfg.Host, append(s.opts, gomail.WithDialContextFunc(dial))...)
	if err != nil {
		return err
	}
	c, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if err := c.Mail((&netmail.Address{Address: s.from.Address}).String()); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt((&netmail.Address{Address: rcpt}).String()); err != nil {
		return fmt.Errorf("rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// The DATA writer dot-stuffs lines that start with ".".
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// The server has accepted the message; a failed QUIT changes nothing.
	_ = client.CloseWithSMTPClient(c)
	return nil
}

// boundConn keeps every deadline go-mail sets within ctx, so the whole
// conversation ends with ctx and cancelling it fails the pending read or
// write. go-mail and crypto/tls set deadlines only through SetDeadline.
type boundConn struct {
	net.Conn
	ctx context.Context
	mu  sync.Mutex // orders a deadline set against ctx ending
}

func bound(c net.Conn, ctx context.Context) *boundConn {
	b := &boundConn{Conn: c, ctx: ctx}
	b.SetDeadline(time.Time{})
	context.AfterFunc(ctx, func() { b.SetDeadline(time.Time{}) })
	return b
}

func (b *boundConn) SetDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx.Err() != nil {
		t = time.Unix(1, 0)
	} else if d, ok := b.ctx.Deadline(); ok && (t.IsZero() || d.Before(t)) {
		t = d
	}
	return b.Conn.SetDeadline(t)
}

// isLoopback reports whether host names this machine, where a plain local
// relay is safe.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
