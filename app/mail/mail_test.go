package mail

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestVerificationMessageLinksToVerifyWithTheEscapedToken(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"https://app.example.com", "https://app.example.com/"} {
		m := VerificationMessage(base, "ann@example.com", "a+b/c=d&e")
		want := "https://app.example.com/auth/verify?token=a%2Bb%2Fc%3Dd%26e"
		if m.To != "ann@example.com" || m.Subject == "" || !strings.Contains(m.Text, want+"\n") {
			t.Errorf("base %q: got %+v, want a link %s", base, m, want)
		}
		if strings.Contains(m.Text, "com//auth") {
			t.Errorf("base %q: double slash in %q", base, m.Text)
		}
	}
}

func TestResetMessageLinksToTheResetPage(t *testing.T) {
	t.Parallel()
	m := ResetMessage("http://localhost:8080/", "bob@example.com", "0123abcd")
	if want := "http://localhost:8080/reset-password?token=0123abcd\n"; !strings.Contains(m.Text, want) {
		t.Errorf("text %q lacks %q", m.Text, want)
	}
	if !strings.Contains(m.Text, "1 hour") || m.To != "bob@example.com" {
		t.Errorf("unexpected message %+v", m)
	}
}

func TestLogMailerWritesTheMessageAtInfo(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	mailer := NewLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	m := VerificationMessage("http://localhost:8080", "ann@example.com", "tok123")
	if err := mailer.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`"level":"INFO"`, `"to":"ann@example.com"`, `"subject":"Verify your e-mail address"`, "/auth/verify?token=tok123"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %s lacks %s", out, want)
		}
	}
}

func TestLogMailerRefusesWhatSMTPWouldRefuse(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	mailer := NewLog(slog.New(slog.NewTextHandler(&buf, nil)))
	err := mailer.Send(context.Background(), Message{To: "ann@example.com", Subject: "Hi\r\nBcc: eve@example.com"})
	if !errors.Is(err, ErrHeaderInjection) || buf.Len() != 0 {
		t.Fatalf("got %v and log %q; want ErrHeaderInjection and nothing logged", err, buf.String())
	}
}

func TestComposeUsesQuotedPrintableOnlyWhenNeeded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, encoding string
	}{
		{"ASCII", "hello\nworld\n", "7bit"},
		{"UTF-8", "grüße\n", "quoted-printable"},
		{"long line", strings.Repeat("x", maxLine+1), "quoted-printable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			from := mustAddress(t, "App <noreply@example.com>")
			to := mustAddress(t, "ann@example.com")
			raw := string(compose(from, to, "Hi", tc.text, testNow))
			if !strings.Contains(raw, "Content-Transfer-Encoding: "+tc.encoding+"\r\n") {
				t.Fatalf("want %s in\n%s", tc.encoding, raw)
			}
			for i, line := range strings.Split(raw, "\r\n") {
				if len(line) > maxLine || strings.Contains(line, "\n") {
					t.Fatalf("line %d: %d bytes or a bare LF", i, len(line))
				}
			}
		})
	}
}
