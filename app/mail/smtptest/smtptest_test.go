package smtptest

import (
	"net/smtp"
	"strings"
	"testing"
	"time"
)

func send(t *testing.T, s *Server, to, body string) error {
	t.Helper()
	msg := "Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + body + "\r\n"
	return smtp.SendMail(s.Addr(), nil, "app@example.com", []string{to}, []byte(msg))
}

func TestWaitMessageReturnsEachMessageOnceInOrder(t *testing.T) {
	t.Parallel()
	s := Start(t)
	for _, to := range []string{"a@example.com", "b@example.com"} {
		if err := send(t, s, to, "x=3Dy"); err != nil {
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
	if n := len(s.Messages()); n != 2 {
		t.Errorf("Messages() has %d, want 2", n)
	}
}

func TestWaitMessageWaitsForALateMessage(t *testing.T) {
	t.Parallel()
	s := Start(t)
	errc := make(chan error, 1)
	go func() { errc <- send(t, s, "late@example.com", "hi") }()
	if got := s.WaitMessage(t, 5*time.Second); got.To[0] != "late@example.com" {
		t.Fatalf("got %v", got.To)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestServerWithCredentialsRequiresAuth(t *testing.T) {
	t.Parallel()
	s := StartWith(t, Options{Username: "u", Password: "p"})
	err := send(t, s, "a@example.com", "hi")
	if err == nil || !strings.Contains(err.Error(), "530") {
		t.Fatalf("got %v, want 530", err)
	}
	auth := smtp.PlainAuth("", "u", "p", s.Host())
	if err := smtp.SendMail(s.Addr(), auth, "app@example.com", []string{"a@example.com"}, []byte("\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := s.WaitMessage(t, time.Second); got.AuthUser != "u" {
		t.Errorf("AuthUser %q", got.AuthUser)
	}
}

func TestServerRejectsListedRecipients(t *testing.T) {
	t.Parallel()
	s := StartWith(t, Options{RejectRecipients: []string{"gone@example.com"}})
	if err := send(t, s, "gone@example.com", "hi"); err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("got %v, want 550", err)
	}
}
