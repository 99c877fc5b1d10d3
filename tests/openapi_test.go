package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gin-gonic/gin"

	"apisec/api"
	"apisec/routes"
)

// contract is api/openapi.yaml loaded for checking answers against it.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

// loadContract loads the document once for the package: every answer of
// every test is checked against it.
var loadContract = sync.OnceValues(func() (*contract, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.YAML)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("api/openapi.yaml is not a valid OpenAPI document: %w", err)
	}
	doc.Servers = nil // match paths on whatever host the test server has
	// The /docs page and its assets are checked as text.
	for _, ct := range []string{"text/html", "text/css", "text/javascript"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &contract{doc: doc, router: router}, nil
})

// checkAnswer reports how an answer to req departs from the document: a
// status the operation does not list, a body that does not match its
// schema, a required header missing. An unknown route must answer 404 `Not
// found` and a known route with another method 405 `Method not allowed`.
func checkAnswer(req *http.Request, status int, header http.Header, body []byte) error {
	c, err := loadContract()
	if err != nil {
		return err
	}
	route, params, err := c.router.FindRoute(req)
	if err == nil && len(req.URL.Path) > 1 && strings.HasSuffix(req.URL.Path, "/") {
		err = &routers.RouteError{Reason: routers.ErrPathNotFound.Error()} // kin-openapi ignores a trailing slash; Gin does not
	}
	// A CORS preflight is the CORS layer's, in no operation: 204 and no
	// body for a listed origin (a bare 204 for others); without
	// CORS_ALLOWED_ORIGINS it is any OPTIONS, answered 405 below.
	if req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" &&
		status == http.StatusNoContent && len(body) == 0 {
		return nil
	}
	var rerr *routers.RouteError
	if errors.As(err, &rerr) {
		want, msg := http.StatusNotFound, "Not found"
		if errors.Is(err, routers.ErrMethodNotAllowed) || rerr.Reason == routers.ErrMethodNotAllowed.Error() {
			want, msg = http.StatusMethodNotAllowed, "Method not allowed"
		}
		if status != want || (req.Method != http.MethodHead && !bytes.Equal(body, []byte(`{"error":"`+msg+`"}`))) {
			return fmt.Errorf("%s %s is in no operation of the document (%v), so it must answer %d %q, not %d %s",
				req.Method, req.URL.Path, err, want, msg, status, body)
		}
		return nil
	}
	if err != nil {
		return err
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route}
	opts := &openapi3filter.Options{IncludeResponseStatus: true}
	opts.WithCustomSchemaErrorFunc(func(e *openapi3.SchemaError) string { // the default prints the whole schema
		return "at /" + strings.Join(e.JSONPointer(), "/") + ": " + e.Reason
	})
	if req.Method == http.MethodHead {
		// kin-openapi skips HEAD answers altogether; check their status and
		// headers as a GET's, without a body.
		get := req.Clone(req.Context())
		get.Method = http.MethodGet
		in.Request = get
		opts.ExcludeResponseBody = true
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                opts,
	})
	if err != nil {
		return fmt.Errorf("%s %s answered %d, which departs from api/openapi.yaml (%s): %v; body %.300s",
			req.Method, req.URL.Path, status, route.Operation.OperationID, err, body)
	}
	return nil
}

// ginPath turns a Gin route pattern into the document's: /projects/:id is
// /projects/{id}.
var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

func ginPath(p string) string { return ginParam.ReplaceAllString(p, "{$1}") }

// Every route the router serves is in the document and every operation of
// the document is served, method by method.
func TestTheDocumentListsExactlyTheRoutesServed(t *testing.T) {
	t.Parallel()
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	handler, err := routes.New(e.App)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, rt := range handler.(*gin.Engine).Routes() {
		served[rt.Method+" "+ginPath(rt.Path)] = true
	}
	documented := map[string]bool{}
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	var missing, extra []string
	for r := range served {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		if !served[r] {
			extra = append(extra, r)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing) > 0 {
		t.Errorf("served but not in api/openapi.yaml: %s", strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		t.Errorf("in api/openapi.yaml but not served: %s", strings.Join(extra, ", "))
	}
}

// GET /openapi.json is api/openapi.yaml, as JSON.
func TestOpenAPIJSONIsTheDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.do("GET", "/openapi.json", nil)
	expect(t, r, http.StatusOK, "")
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	served, err := openapi3.NewLoader().LoadFromData(r.Body)
	if err != nil {
		t.Fatalf("served document: %v", err)
	}
	served.Servers = nil
	want, _ := json.Marshal(c.doc)
	got, _ := json.Marshal(served)
	if !bytes.Equal(got, want) {
		t.Fatalf("GET /openapi.json differs from api/openapi.yaml")
	}
	if r.String("openapi") != "3.1.0" {
		t.Fatalf("openapi %q", r.String("openapi"))
	}
}

// The check that every e2e answer goes through catches an answer that
// departs from the document.
func TestCheckAnswerRefusesWhatTheDocumentDoesNot(t *testing.T) {
	t.Parallel()
	req := func(method, path string) *http.Request {
		r, _ := http.NewRequest(method, "http://127.0.0.1"+path, nil)
		return r
	}
	ok := http.Header{"X-Request-Id": {"abc"}, "Content-Type": {"application/json; charset=utf-8"}}
	for k, v := range securityHeaders {
		ok.Set(k, v)
	}
	unauthorized := ok.Clone()
	unauthorized.Set("WWW-Authenticate", "Bearer")
	cases := []struct {
		name   string
		req    *http.Request
		status int
		header http.Header
		body   string
	}{
		{"an undocumented status", req("GET", "/public/status"), 418, ok, `{"error":"x"}`},
		{"a body off its schema", req("GET", "/public/status"), 200, ok, `{"status":"down"}`},
		{"a field the schema does not have", req("GET", "/auth/me"), 200, ok, `{"user":{"id":"0b9f3c1e-4d2a-4c8e-9a51-7f6e2d1c3b4a","email":"a@b.co","role":"viewer","plan":"free","emailVerified":true,"createdAt":"2026-03-01T12:00:00Z","passwordHash":"x"}}`},
		{"another message than the contract's", req("POST", "/auth/refresh"), 401, unauthorized, `{"error":"Invalid token"}`},
		{"a 401 without WWW-Authenticate", req("GET", "/auth/me"), 401, ok, `{"error":"Invalid token"}`},
		{"a 429 without Retry-After", req("GET", "/public/status"), 429, ok, `{"error":"Too many requests"}`},
		{"an answer without X-Request-ID", req("GET", "/healthz"), 200, http.Header{"Content-Type": {"application/json"}}, `{"status":"ok"}`},
		{"an answer without its security headers", req("GET", "/healthz"), 200, http.Header{"X-Request-Id": {"abc"}, "Content-Type": {"application/json"}}, `{"status":"ok"}`},
		{"a HEAD with an undocumented status", req("HEAD", "/healthz"), 201, ok, ``},
		{"an unknown route that answers 200", req("GET", "/nope"), 200, ok, `{}`},
		{"a wrong method that answers 404", req("DELETE", "/public/status"), 404, ok, `{"error":"Not found"}`},
	}
	for _, c := range cases {
		if err := checkAnswer(c.req, c.status, c.header, []byte(c.body)); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	if err := checkAnswer(req("POST", "/auth/refresh"), 401, unauthorized, []byte(`{"error":"Invalid refresh token"}`)); err != nil {
		t.Errorf("a contract answer refused: %v", err)
	}
}
