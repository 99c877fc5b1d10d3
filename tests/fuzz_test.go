package tests

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// FuzzRegisterBody posts arbitrary bytes to /auth/register: whatever arrives,
// the answer is one of the contract's, in its JSON shape, and never shows
// internals. One API serves every input of a run.
func FuzzRegisterBody(f *testing.F) {
	for _, seed := range []string{
		`{"email":"fuzz@example.com","password":"Correct-Horse-42"}`,
		`{"email":"FUZZ@example.com","password":"Correct-Horse-42"}`,
		`{"email":"jürgen@bücher.example","password":"Correct-Horse-42"}`,
		`{"email":"weak@example.com","password":"Password123"}`,
		`{"email":"weak@example.com","password":"short"}`,
		`{"email":"long@example.com","password":"Aa1` + strings.Repeat("x", 70) + `"}`,
		`{"email":"not-an-email","password":"Correct-Horse-42"}`,
		`{"email":"a@b","password":"Correct-Horse-42"}`,
		`{"email":"Name <a@example.com>","password":"Correct-Horse-42"}`,
		`{"email":"nul\u0000@example.com","password":"Correct-Horse-42"}`,
		`{"email":"rtl\u202e@example.com","password":"Correct-Horse-42"}`,
		`{"email":"x@example.com","password":"Correct\u0000Horse-42"}`,
		"{\"email\":\"\xff\xfe@example.com\",\"password\":\"Correct-Horse-42\"}",
		`{"email":"x@example.com","password":"Correct\ud800Horse-42"}`,
		`{"email":42,"password":"Correct-Horse-42"}`,
		`{"email":"x@example.com","password":["a"]}`,
		`{"email":"x@example.com","password":null}`,
		`{"email":"x@example.com","password":"Correct-Horse-42","role":"admin","emailVerified":true}`,
		`{"email":"x@example.com","email":"y@example.com","password":"Correct-Horse-42"}`,
		`{"email":"x@example.com","password":"Correct-Horse-42"} {}`,
		`{"email":"x@example.com","password":"Correct-Horse-42"`,
		`{"email":"x@example.com'; DROP TABLE users; --","password":"Correct-Horse-42"}`,
		`{"email":"` + strings.Repeat("a", 300) + `@example.com","password":"Correct-Horse-42"}`,
		`{"a":` + strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 201),
		strings.Repeat("[", 5000),
		`{"email":1e999,"password":-0}`,
		`{}`,
		`[]`,
		`null`,
		`"string"`,
		``,
		` `,
		"\xef\xbb\xbf{\"email\":\"bom@example.com\",\"password\":\"Correct-Horse-42\"}",
	} {
		f.Add([]byte(seed))
	}
	e := newEnv(f, unlimited())
	allowed := map[int]bool{
		http.StatusCreated: true, http.StatusBadRequest: true, http.StatusConflict: true,
		http.StatusRequestEntityTooLarge: true, http.StatusUnsupportedMediaType: true,
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		t.Parallel()
		r, err := e.send("POST", "/auth/register", string(body))
		if err != nil {
			t.Fatal(err)
		}
		if !allowed[r.Status] {
			t.Fatalf("status %d for %q: %s", r.Status, body, r.Body)
		}
		shown := string(r.Body)
		if r.Status == http.StatusCreated {
			user, _ := r.JSON["user"].(map[string]any)
			email, _ := user["email"].(string)
			if email == "" || user["role"] != "viewer" || r.String("verificationToken") == "" {
				t.Fatalf("201 for %q: %s", body, r.Body)
			}
			// The address is the caller's own text; look for leaks elsewhere.
			raw, _ := json.Marshal(email)
			shown = strings.ReplaceAll(shown, string(raw), `""`)
		} else if r.Error() == "" {
			t.Fatalf("status %d without an error message for %q: %s", r.Status, body, r.Body)
		}
		for _, leak := range []string{"password_hash", "PasswordHash", "SELECT", "INSERT", "goroutine", "$2a$", "$2b$"} {
			if strings.Contains(shown, leak) {
				t.Fatalf("the answer to %q shows %q: %s", body, leak, r.Body)
			}
		}
	})
}
