package tests

import (
	"net/http"
	"strings"
	"testing"

	"apisec/app/tokens"
)

func TestPublicStatusAndHealthAnswerOK(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, path := range []string{"/public/status", "/healthz", "/readyz"} {
		r := e.do("GET", path, nil)
		expect(t, r, http.StatusOK, "")
		if r.String("status") == "" {
			t.Errorf("%s: no status in %s", path, r.Body)
		}
	}
	if r := e.do("GET", "/public/status", nil); r.String("status") != "ok" {
		t.Fatalf("status body %s", r.Body)
	}
}

func TestReadyzAnswers503WhenTheDatabaseIsDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	sqlDB, _ := e.App.DB.DB()
	sqlDB.Close()
	expect(t, e.do("GET", "/readyz", nil), http.StatusServiceUnavailable, "Service unavailable")
	expect(t, e.do("GET", "/healthz", nil), http.StatusOK, "")
}

func TestUnknownRoutesAndMethodsAnswerJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	expect(t, e.do("GET", "/nope", nil), http.StatusNotFound, "Not found")
	expect(t, e.do("GET", "/projects/", nil), http.StatusNotFound, "Not found")
	expect(t, e.do("DELETE", "/public/status", nil), http.StatusMethodNotAllowed, "Method not allowed")
	expect(t, e.do("PUT", "/auth/login", "{}"), http.StatusMethodNotAllowed, "Method not allowed")
}

func TestMalformedBodiesGetTheContractsErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_GLOBAL": "off"})
	cases := []struct {
		name, body string
		status     int
		msg        string
	}{
		{"broken JSON", `{"email":`, 400, "Invalid JSON body"},
		{"empty body", ``, 400, "Invalid JSON body"},
		{"not an object", `[1,2]`, 400, "Invalid JSON body"},
		{"trailing data", `{"email":"a@b.co","password":"x"} {}`, 400, "Invalid JSON body"},
		{"wrong type", `{"email":42,"password":"x"}`, 400, "email must be a string"},
		{"huge body", `{"email":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "Request body too large"},
	}
	for _, c := range cases {
		r := e.do("POST", "/auth/register", c.body)
		if r.Status != c.status || r.Error() != c.msg {
			t.Errorf("%s: %d %q, want %d %q", c.name, r.Status, r.Error(), c.status, c.msg)
		}
	}
	r := e.do("POST", "/auth/login", `email=a`, "Content-Type", "application/x-www-form-urlencoded")
	expect(t, r, http.StatusBadRequest, "Invalid JSON body")
}

func TestRequestIDIsEchoedOrMade(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if got := e.do("GET", "/healthz", nil, "X-Request-ID", "abc-123").Header.Get("X-Request-ID"); got != "abc-123" {
		t.Fatalf("echoed %q", got)
	}
	made := e.do("GET", "/healthz", nil, "X-Request-ID", "bad id\twith junk").Header.Get("X-Request-ID")
	if len(made) != 32 || strings.Contains(made, "junk") {
		t.Fatalf("made %q for a malformed ID", made)
	}
}

func TestRequestLogHoldsNoSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RATE_LIMIT_GLOBAL": "off"})
	const password = "Sup3rSecretPassw0rd!"
	r := e.do("POST", "/auth/register", map[string]string{"email": "log@example.com", "password": password})
	expect(t, r, http.StatusCreated, "")
	token := r.String("verificationToken")
	e.do("GET", "/auth/verify?token="+token, nil)
	e.do("GET", "/auth/me", nil, "Authorization", "Bearer secret.jwt.value")
	logs := e.Log.String()
	for _, secret := range []string{password, token, "secret.jwt.value"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log holds %q", secret)
		}
	}
	if !strings.Contains(logs, `"path":"/auth/verify"`) {
		t.Errorf("request log line missing:\n%s", logs)
	}
}

func TestStorageOutageAnswers503WithoutDetails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	is, err := e.App.Tokens.Issue(tokens.Grant{Subject: "00000000-0000-4000-8000-000000000000", Session: "00000000-0000-4000-8000-000000000001", Role: "admin", Plan: "free"})
	if err != nil {
		t.Fatal(err)
	}
	token := is.Token
	sqlDB, _ := e.App.DB.DB()
	sqlDB.Close()
	for _, r := range []response{
		e.do("GET", "/projects", nil, bearer(token)...),
		e.do("GET", "/analytics", nil, bearer(token)...),
		e.do("POST", "/auth/login", map[string]string{"email": "a@example.com", "password": "Whatever-123"}),
	} {
		expect(t, r, http.StatusServiceUnavailable, "Service unavailable")
		if strings.Contains(string(r.Body), "sql") {
			t.Fatalf("internal text leaked: %s", r.Body)
		}
	}
}
