package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// withMetrics is an environment whose app serves /metrics on a listener of
// its own, as serve does with METRICS_ADDR set.
func withMetrics(vars map[string]string) map[string]string {
	vars["METRICS_ADDR"] = "127.0.0.1:0"
	return vars
}

// scrape reads e's /metrics.
func scrape(t *testing.T, e *env) map[string]*dto.MetricFamily {
	t.Helper()
	if e.Metrics == "" {
		t.Fatal("the app has no metrics listener")
	}
	res, err := http.Get(e.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sample is the value of the series of family name with exactly labels
// (name, value pairs): a counter's or gauge's value, a histogram's count.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		match := true
		for i, l := range m.GetLabel() {
			if l.GetName() != labels[2*i] || l.GetValue() != labels[2*i+1] {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func expectSample(t *testing.T, fams map[string]*dto.MetricFamily, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := sample(fams, name, labels...)
	if !ok {
		t.Errorf("%s%v: no such series", name, labels)
	} else if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// eventLines are the app's log lines with an event attribute, decoded.
func eventLines(t *testing.T, e *env) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(e.Log.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["event"] != nil {
			out = append(out, line)
		}
	}
	return out
}

// After a login, a wrong password, a throttled login and a reused refresh
// token, /metrics counts each where it was decided, requests by route
// pattern, and the runtime, process and pool collectors report.
func TestMetricsCountLoginsThrottlingAndReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMetrics(map[string]string{"RATE_LIMIT_LOGIN": "2/15m"}))
	registerAndVerify(t, e, "metrics@example.com", goodPassword)

	first := login(t, e, "metrics@example.com", goodPassword)
	expect(t, e.do("POST", "/auth/login", map[string]string{"email": "metrics@example.com", "password": "Wrong-Horse-99"}),
		http.StatusUnauthorized, "Invalid email or password")
	throttled := e.do("POST", "/auth/login", map[string]string{"email": "metrics@example.com", "password": goodPassword})
	expect(t, throttled, http.StatusTooManyRequests, "")
	refresh(t, e, first.Refresh)
	e.Clock.Advance(11 * time.Second) // past REFRESH_REUSE_GRACE: theft, not a retry
	expect(t, e.do("POST", "/auth/refresh", map[string]string{"refreshToken": first.Refresh}), http.StatusUnauthorized, "Invalid refresh token")
	// Paths and methods no route has share one label value each.
	expect(t, e.do("GET", "/no/such/path/1", nil), http.StatusNotFound, "Not found")
	expect(t, e.do("GET", "/no/such/path/2", nil), http.StatusNotFound, "Not found")
	brew, _ := http.NewRequest("BREW", e.URL+"/projects/x", nil) // past the document's checks: no operation has it
	if res, err := http.DefaultClient.Do(brew); err != nil || res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("BREW: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	expect(t, e.do("GET", "/metrics", nil), http.StatusNotFound, "Not found") // never on the public listener
	expect(t, e.do("GET", "/auth/me", nil, bearer("not.a.token")...), http.StatusUnauthorized, "Invalid token")

	flushMail(e)
	fams := scrape(t, e)
	for _, c := range []struct {
		want   float64
		name   string
		labels []string
	}{
		{1, "auth_logins_total", []string{"outcome", "success"}},
		{1, "auth_logins_total", []string{"outcome", "invalid_credentials"}},
		{1, "auth_logins_total", []string{"outcome", "throttled"}},
		{0, "auth_logins_total", []string{"outcome", "unverified"}},
		{1, "auth_refresh_reuse_total", nil},
		{0, "bcrypt_rejected_total", nil},
		{1, "mail_sent_total", []string{"kind", "verify_email", "outcome", "sent"}},
		// The login limiter admitted two and refused the third; the account
		// limiter saw the two it admitted (the third never reached it).
		{2, "ratelimit_decisions_total", []string{"limiter", "login", "outcome", "allowed"}},
		{1, "ratelimit_decisions_total", []string{"limiter", "login", "outcome", "limited"}},
		{2, "ratelimit_decisions_total", []string{"limiter", "account", "outcome", "allowed"}},
		{0, "ratelimit_decisions_total", []string{"limiter", "account", "outcome", "limited"}},
		// register, verify, 3 logins, 2 refreshes, 3 unmatched requests and
		// /metrics pass the global limiter; the failed /auth/me is charged to it.
		{12, "ratelimit_decisions_total", []string{"limiter", "global", "outcome", "allowed"}},
		{0, "ratelimit_decisions_total", []string{"limiter", "global", "outcome", "failed_open"}},
		{0, "ratelimit_decisions_total", []string{"limiter", "login", "outcome", "failed_closed"}},
		{1, "http_requests_total", []string{"method", "POST", "route", "/auth/login", "status", "200"}},
		{1, "http_requests_total", []string{"method", "POST", "route", "/auth/login", "status", "401"}},
		{1, "http_requests_total", []string{"method", "POST", "route", "/auth/login", "status", "429"}},
		{1, "http_requests_total", []string{"method", "POST", "route", "/auth/refresh", "status", "200"}},
		{1, "http_requests_total", []string{"method", "POST", "route", "/auth/refresh", "status", "401"}},
		{1, "http_requests_total", []string{"method", "GET", "route", "/auth/verify", "status", "200"}},
		{1, "http_requests_total", []string{"method", "GET", "route", "/auth/me", "status", "401"}},
		{3, "http_requests_total", []string{"method", "GET", "route", "unmatched", "status", "404"}}, // /metrics too
		{1, "http_requests_total", []string{"method", "other", "route", "unmatched", "status", "405"}},
		{3, "http_request_duration_seconds", []string{"method", "POST", "route", "/auth/login"}},
	} {
		expectSample(t, fams, c.want, c.name, c.labels...)
	}
	for _, f := range fams["http_requests_total"].GetMetric() {
		for _, l := range f.GetLabel() {
			if strings.Contains(l.GetValue(), "/no/such") || l.GetValue() == "BREW" {
				t.Errorf("a client-chosen path or method became a label: %v", f.GetLabel())
			}
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "go_sql_open_connections"} {
		if fams[name] == nil {
			t.Errorf("no %s series", name)
		}
	}
	if e.App.Redis != nil {
		expectSample(t, fams, 0, "redis_pool_timeouts_total")
	}
	// Every family docs/operations.md (its alert rules included) names is one the app exposes.
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`\b[a-z_]+_(?:total|seconds)\b`).FindAllString(string(doc), -1) {
		if fams[name] == nil {
			t.Errorf("docs/operations.md names %s, which /metrics does not have", name)
		}
	}

	// The same decisions are security events naming the request.
	seen := map[string]map[string]any{}
	for _, line := range eventLines(t, e) {
		seen[line["event"].(string)] = line
	}
	for _, ev := range []string{"login.failed", "login.throttled", "refresh.reuse"} {
		line := seen[ev]
		if line == nil {
			t.Errorf("no %s event in the log", ev)
			continue
		}
		if line["request_id"] == "" || line["request_id"] == nil || line["client_ip"] != "127.0.0.1" {
			t.Errorf("%s names no request: %v", ev, line)
		}
		if ev != "login.throttled" && line["user_id"] == nil {
			t.Errorf("%s names no user: %v", ev, line)
		}
	}
	if id := seen["login.throttled"]["request_id"]; id != throttled.Header.Get("X-Request-ID") {
		t.Errorf("login.throttled request_id %v, the answer's X-Request-ID %q", id, throttled.Header.Get("X-Request-ID"))
	}
}

// Without METRICS_ADDR nothing is counted and no listener is started.
func TestNoMetricsWithoutMetricsAddr(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if e.App.Metrics != nil || e.Metrics != "" {
		t.Fatal("metrics made without METRICS_ADDR")
	}
	expect(t, e.do("GET", "/metrics", nil), http.StatusNotFound, "Not found")
}

// serve starts the metrics listener on METRICS_ADDR, apart from the API's,
// and none without it.
func TestServeStartsTheMetricsListenerOnlyWithMetricsAddr(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	vars := cliVars(t)
	vars["METRICS_ADDR"] = addr
	port, stop := startServeOutput(t, vars)
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `http_requests_total{method="GET",route="/healthz",status="200"}`) {
		t.Fatalf("GET /metrics: %d\n%s", res.StatusCode, body)
	}
	if res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port)); err != nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("the API's listener answered /metrics: %v %v", res, err)
	}
	if code, stdout, stderr := stop(); code != 0 || !strings.Contains(stdout, "metrics listening") {
		t.Fatalf("serve exited %d, log:\n%s%s", code, stdout, stderr)
	}

	_, stop = startServeOutput(t, cliVars(t))
	if code, stdout, stderr := stop(); code != 0 || strings.Contains(stdout, "metrics") {
		t.Fatalf("without METRICS_ADDR: exit %d, log:\n%s%s", code, stdout, stderr)
	}
}

// A login that waited its whole BCRYPT_WAIT for a bcrypt slot answers 503
// and is counted as a bcrypt rejection, not as a login outcome.
func TestMetricsCountBcryptRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMetrics(map[string]string{
		"BCRYPT_COST": "10", "BCRYPT_CONCURRENCY": "1", "BCRYPT_WAIT": "1ms",
		"RATE_LIMIT_LOGIN": "off", "RATE_LIMIT_ACCOUNT": "off",
	}))
	registerAndVerify(t, e, "busy@example.com", goodPassword)
	const n = 6
	rejected, admitted := 0.0, 0.0
	for _, r := range e.concurrently(t, n, "POST", "/auth/login", map[string]string{"email": "busy@example.com", "password": goodPassword}) {
		switch r.Status {
		case http.StatusServiceUnavailable:
			rejected++
		case http.StatusOK:
			admitted++
		default:
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
	}
	if rejected == 0 {
		t.Fatalf("%d logins at once on one bcrypt slot with a 1ms wait: none was refused", n)
	}
	fams := scrape(t, e)
	expectSample(t, fams, rejected, "bcrypt_rejected_total")
	expectSample(t, fams, admitted, "auth_logins_total", "outcome", "success")
	expectSample(t, fams, rejected, "http_requests_total", "method", "POST", "route", "/auth/login", "status", "503")
}
