package mail

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// heldListener accepts connections and never says a word, as a hung SMTP
// server does.
func heldListener(t *testing.T) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr)
}

func TestAsyncAnswersAtOnceAndCloseWaitsForTheSendWithinItsTimeout(t *testing.T) {
	t.Parallel()
	addr := heldListener(t)
	smtp, err := NewSMTP(SMTPConfig{Host: addr.IP.String(), Port: addr.Port, From: "noreply@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer // written by the send, read after Close has waited for it
	const timeout = 300 * time.Millisecond
	a := NewAsync(smtp, slog.New(slog.NewJSONHandler(&logs, nil)), timeout)
	m := VerificationMessage("https://app.example.com", "ann@example.com", "secret-token-0123")
	m.Kind, m.UserID = "verification", "user-42"

	start := time.Now()
	if err := a.Send(t.Context(), m); err != nil {
		t.Fatalf("Send = %v, want nil: failures are logged", err)
	}
	if d := time.Since(start); d >= timeout {
		t.Fatalf("Send took %v: it waited for the server", d)
	}
	a.Close()
	if d := time.Since(start); d < timeout || d > timeout+3*time.Second {
		t.Fatalf("Close returned after %v, want the send's %v timeout", d, timeout)
	}
	got := logs.String()
	for _, want := range []string{"send e-mail failed", `"kind":"verification"`, `"user_id":"user-42"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "secret-token-0123") || strings.Contains(got, "ann@example.com") {
		t.Errorf("log holds the message:\n%s", got)
	}
}

func TestAsyncDeliversInTheBackgroundAndSynchronouslyOnceClosed(t *testing.T) {
	t.Parallel()
	var sent bytes.Buffer
	a := NewAsync(NewLog(slog.New(slog.NewJSONHandler(&sent, nil))), nil, 0)
	if err := a.Send(t.Context(), Message{To: "ann@example.com", Subject: "first"}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if !strings.Contains(sent.String(), `"subject":"first"`) {
		t.Fatalf("Close did not wait for the first message: %q", sent.String())
	}
	if err := a.Send(t.Context(), Message{To: "bob@example.com", Subject: "second"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sent.String(), `"subject":"second"`) {
		t.Fatalf("Send after Close returned before sending: %q", sent.String())
	}
}
