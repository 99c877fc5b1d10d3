package middleware

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"apisec/app/errs"
)

// basicsEngine is the router's front chain with a few probe routes.
func basicsEngine(log *slog.Logger) *gin.Engine {
	r := gin.New()
	r.Use(RequestID(), Logger(log), Recover(), LimitBody())
	r.GET("/panic", func(*gin.Context) { panic("boom: secret internals") })
	r.GET("/fail", Handle(func(*gin.Context) (int, any, error) {
		return 0, nil, errors.New("pq: relation \"users\" does not exist")
	}))
	r.GET("/unauthorized", Handle(func(*gin.Context) (int, any, error) { return 0, nil, errs.ErrAuthRequired }))
	r.POST("/echo", func(c *gin.Context) {
		n, err := io.Copy(io.Discard, c.Request.Body)
		if IsBodyTooLarge(err) {
			Abort(c, errs.ErrBodyTooLarge)
			return
		}
		c.JSON(http.StatusOK, gin.H{"read": n})
	})
	return r
}

func serve(r http.Handler, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func errorOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct{ Error string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body is not JSON: %q", w.Body)
	}
	return body.Error
}

func TestPanicsAnswerAPlain500AndLogTheStack(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	w := serve(basicsEngine(slog.New(slog.NewJSONHandler(&logs, nil))), httptest.NewRequest("GET", "/panic", nil))
	if w.Code != 500 || errorOf(t, w) != "Internal server error" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), "boom") || strings.Contains(w.Body.String(), "goroutine") {
		t.Fatalf("internals leaked: %s", w.Body)
	}
	if !strings.Contains(logs.String(), "boom: secret internals") || !strings.Contains(logs.String(), "stack") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

func TestUnknownErrorsAreLoggedWithTheRequestIDAndHidden(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	req := httptest.NewRequest("GET", "/fail", nil)
	req.Header.Set("X-Request-ID", "req-42")
	w := serve(basicsEngine(slog.New(slog.NewJSONHandler(&logs, nil))), req)
	if w.Code != 500 || errorOf(t, w) != "Internal server error" || strings.Contains(w.Body.String(), "relation") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if !strings.Contains(logs.String(), `"request_id":"req-42"`) || !strings.Contains(logs.String(), "relation") {
		t.Fatalf("error not logged with the request ID: %s", logs.String())
	}
}

func TestUnauthorizedAnswersCarryWWWAuthenticate(t *testing.T) {
	t.Parallel()
	w := serve(basicsEngine(slog.New(slog.DiscardHandler)), httptest.NewRequest("GET", "/unauthorized", nil))
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
}

func TestBodiesOverOneMebibyteAreRefusedWithOrWithoutALength(t *testing.T) {
	t.Parallel()
	r := basicsEngine(slog.New(slog.DiscardHandler))
	big := strings.Repeat("x", MaxBodyBytes+1)

	declared := httptest.NewRequest("POST", "/echo", strings.NewReader(big))
	if w := serve(r, declared); w.Code != 413 || errorOf(t, w) != "Request body too large" {
		t.Fatalf("with Content-Length: %d %s", w.Code, w.Body)
	}
	chunked := httptest.NewRequest("POST", "/echo", io.MultiReader(strings.NewReader(big)))
	chunked.ContentLength = -1
	if w := serve(r, chunked); w.Code != 413 || errorOf(t, w) != "Request body too large" {
		t.Fatalf("chunked: %d %s", w.Code, w.Body)
	}
	exact := httptest.NewRequest("POST", "/echo", strings.NewReader(big[:MaxBodyBytes]))
	if w := serve(r, exact); w.Code != 200 {
		t.Fatalf("a body of exactly the limit: %d %s", w.Code, w.Body)
	}
}
