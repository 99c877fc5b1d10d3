package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/smtp"
	"os"
	"strconv"
	"time"
)

// SMTPConfig says how to reach the SMTP server (the SMTP_* settings).
type SMTPConfig struct {
	Host     string
	Port     int // 587 (submission) when zero
	Username string
	Password string
	From     string        // "noreply@example.com" or "Example <noreply@example.com>"
	Timeout  time.Duration // for the whole conversation; 10s when zero

	// TLS is used for STARTTLS; nil means the system roots. Its ServerName
	// defaults to Host, so the server's certificate is checked against Host.
	TLS *tls.Config
	// LocalName is the name sent with EHLO; "localhost" when empty.
	LocalName string
}

// SMTP is a Mailer that delivers through an SMTP server: STARTTLS whenever
// the server offers it, then AUTH PLAIN when a username is configured.
type SMTP struct {
	cfg  SMTPConfig
	from *netmail.Address
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
	return &SMTP{cfg: cfg, from: from, dial: (&net.Dialer{}).DialContext}, nil
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
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	if err := s.send(ctx, addr, to.Address, msg); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// Connection deadlines come only from ctx, so it is ending too;
			// wait the instant for it to say why ("i/o timeout" does not).
			<-ctx.Done()
		}
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("%w (%w)", err, cerr)
		}
		return fmt.Errorf("mail: smtp %s: %w", addr, err)
	}
	return nil
}

func (s *SMTP) send(ctx context.Context, addr, rcpt string, msg []byte) error {
	conn, err := s.dial(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	// net/smtp has no context support: the deadline bounds every read and
	// write, and cancelling ctx moves it to now, failing the pending call.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.LocalName); err != nil {
		return fmt.Errorf("ehlo: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(s.cfg.TLS); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	} else if !isLoopback(s.cfg.Host) {
		// The message carries a sign-in link: never send it in clear text
		// over a network, where STARTTLS could also have been stripped.
		return errors.New("server does not offer STARTTLS; refusing to send in clear text")
	}
	if s.cfg.Username != "" {
		// PlainAuth refuses to send the password unless the connection is
		// now TLS or Host is localhost; a server without STARTTLS thus
		// fails here instead of receiving credentials in clear text.
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(rcpt); err != nil {
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
	_ = c.Quit()
	return nil
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
