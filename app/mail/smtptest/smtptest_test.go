package smtptest

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// send delivers one message to s over plain SMTP, authenticating with auth
// unless it is nil.
func send(t *testing.T, s *Server, auth sasl.Client, to, body string) error {
	t.Helper()
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	msg := "Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + body + "\r\n"
	if err := c.SendMail("app@example.com", []string{to}, strings.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit()
}

func TestWaitMessageReturnsEachMessageOnceInOrder(t *testing.T) {
	t.Parallel()
	s := Start(t)
	for _, to := range []string{"a@example.com", "b@example.com"} {
		if err := send(t, s, nil, to, "x=3Dy"); err != nil {
			t.Fatal(err)
		}
	}
	first, second := s.WaitMessage(t, time.Second), s.WaitMessage(t, time.Second)
	if first.To[0] != "a@example.com" || second.To[0] != "b@example.com" {
		t.Fatalf("got %v then %v", first.To, second.To)
	}
	if first.From != "app@example.com" || first.Subject != "café" || first.Body != "x=y\n" {
		t.Errorf("parsed %+v", first)
	}
	if !strings.HasSuffix(string(first.Data), "\r\n\r\nx=3Dy\r\n") {
		t.Errorf("raw data %q", first.Data)
	}
	if n := len(s.Messages()); n != 2 {
		t.Errorf("Messages() has %d, want 2", n)
	}
}

func TestWaitMessageWaitsForALateMessage(t *testing.T) {
	t.Parallel()
	s := Start(t)
	errc := make(chan error, 1)
	go func() { errc <- send(t, s, nil, "late@example.com", "hi") }()
	if got := s.WaitMessage(t, 5*time.Second); got.To[0] != "late@example.com" {
		t.Fatalf("got %v", got.To)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestServerWithCredentialsRequiresAuth(t *testing.T) {
	t.Parallel()
	s := StartWith(t, Options{Username: "u", Password: "p", AuthMechanisms: []string{"PLAIN", "LOGIN"}})
	if err := send(t, s, nil, "a@example.com", "hi"); err == nil || !strings.Contains(err.Error(), "530") {
		t.Fatalf("got %v, want 530", err)
	}
	if err := send(t, s, sasl.NewPlainClient("", "u", "wrong"), "a@example.com", "hi"); err == nil || !strings.Contains(err.Error(), "535") {
		t.Fatalf("wrong password: got %v, want 535", err)
	}
	if err := send(t, s, sasl.NewLoginClient("u", "p"), "a@example.com", "hi"); err != nil {
		t.Fatal(err)
	}
	if got := s.WaitMessage(t, time.Second); got.AuthUser != "u" || got.TLS {
		t.Errorf("AuthUser %q, TLS %v", got.AuthUser, got.TLS)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("Messages() has %d, want 1", n)
	}
}

func TestServerRejectsListedRecipients(t *testing.T) {
	t.Parallel()
	s := StartWith(t, Options{RejectRecipients: []string{"gone@example.com"}})
	if err := send(t, s, nil, "gone@example.com", "hi"); err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("got %v, want 550", err)
	}
}
