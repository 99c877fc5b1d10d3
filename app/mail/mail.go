// Package mail sends the API's e-mails: through SMTP when it is configured,
// to the log otherwise; Async does either in the background.
package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"strings"
)

// Message is one plain-text e-mail to one recipient.
type Message struct {
	To      string
	Subject string
	Text    string

	// Kind and UserID say what the message is for and whom, for the logs;
	// they are not sent.
	Kind   string
	UserID string
}

// Mailer sends messages.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// ErrHeaderInjection is returned for a header value holding a line break,
// which would let its author add headers (Bcc: …) to the message.
var ErrHeaderInjection = errors.New("mail: line break in header value")

// check rejects what must never reach a header, and returns To parsed.
func (m Message) check() (*netmail.Address, error) {
	if hasLineBreak(m.To) || hasLineBreak(m.Subject) {
		return nil, ErrHeaderInjection
	}
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("mail: recipient %q: %w", m.To, err)
	}
	return to, nil
}

func hasLineBreak(s string) bool { return strings.ContainsAny(s, "\r\n\x00") }

// NewLog returns the development Mailer: it writes each message, link and
// all, to logger at Info instead of sending it.
func NewLog(logger *slog.Logger) Mailer { return logMailer{logger} }

type logMailer struct{ logger *slog.Logger }

// Send logs m; it fails only where SMTP delivery would refuse the message
// anyway, so development behaves like production.
func (l logMailer) Send(ctx context.Context, m Message) error {
	if _, err := m.check(); err != nil {
		return err
	}
	l.logger.InfoContext(ctx, "email logged, not sent: SMTP is not configured",
		slog.String("to", m.To), slog.String("subject", m.Subject), slog.String("text", m.Text))
	return nil
}

// NewRedactedLog returns the Mailer for a production without SMTP: it logs
// that a message was not sent, never its text, because the text holds a
// token that would let anyone reading the logs take over the account.
func NewRedactedLog(logger *slog.Logger) Mailer { return redactedLogMailer{logger} }

type redactedLogMailer struct{ logger *slog.Logger }

// Send logs m's subject only.
func (l redactedLogMailer) Send(ctx context.Context, m Message) error {
	if _, err := m.check(); err != nil {
		return err
	}
	l.logger.WarnContext(ctx, "email not sent: SMTP_HOST is not set", slog.String("subject", m.Subject))
	return nil
}

// VerificationMessage is the e-mail with the link that verifies to's address.
func VerificationMessage(baseURL, to, token string) Message {
	link := strings.TrimRight(baseURL, "/") + "/auth/verify?token=" + url.QueryEscape(token)
	return Message{
		To:      to,
		Subject: "Verify your e-mail address",
		Text: "Please confirm your e-mail address by opening this link:\n\n" +
			link + "\n\n" +
			"The link works once and expires in 24 hours. " +
			"If you did not create an account, you can ignore this e-mail.\n",
	}
}

// ResetMessage is the e-mail with the link to the page that sets a new password.
func ResetMessage(baseURL, to, token string) Message {
	link := strings.TrimRight(baseURL, "/") + "/reset-password?token=" + url.QueryEscape(token)
	return Message{
		To:      to,
		Subject: "Reset your password",
		Text: "Someone asked to reset the password of your account. To choose a new password, open this link:\n\n" +
			link + "\n\n" +
			"The link works once and expires in 1 hour. " +
			"If you did not ask for it, ignore this e-mail: your password stays as it is.\n",
	}
}
