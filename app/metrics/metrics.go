// Package metrics holds the Prometheus series an operator watches and
// alerts on: requests by route, every rate-limiter decision, login outcomes,
// refresh-token reuse, bcrypt back-pressure and e-mails, beside the Go
// runtime, process and pool collectors. Each counter is incremented where
// its decision is made; a nil *Metrics (METRICS_ADDR empty) counts nothing.
package metrics

import (
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Unmatched is the route label of requests that match no route, so that
// whatever paths clients send, the label takes a bounded set of values.
const Unmatched = "unmatched"

// Outcome is a rate-limiter decision.
type Outcome int

// The outcomes of ratelimit_decisions_total.
const (
	Allowed      Outcome = iota
	Limited              // refused with a 429
	FailedOpen           // the store failed and the request went through
	FailedClosed         // the store failed and the request got a 503
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"allowed", "limited", "failed_open", "failed_closed"}

// LoginOutcome is how a login attempt ended.
type LoginOutcome int

// The outcomes of auth_logins_total.
const (
	LoginSuccess            LoginOutcome = iota
	LoginInvalidCredentials              // wrong password or unknown address
	LoginUnverified                      // right password, e-mail not verified
	LoginThrottled                       // refused by the login or account limiter
	numLoginOutcomes
)

var loginNames = [numLoginOutcomes]string{"success", "invalid_credentials", "unverified", "throttled"}

// Metrics is the application's series on its own registry.
type Metrics struct {
	reg *prometheus.Registry

	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	decisions *prometheus.CounterVec
	mail      *prometheus.CounterVec
	logins    [numLoginOutcomes]prometheus.Counter
	reuse     prometheus.Counter
	bcrypt    prometheus.Counter

	// Looked up on every request without a lock: written only by New and
	// Route, before the server starts.
	limiters  map[string]*[numOutcomes]prometheus.Counter
	routes    map[routeKey]*series
	unmatched map[string]*series // by method; other methods share "other"
}

type routeKey struct{ method, route string }

// series are one method and route's children, resolved once so a request
// costs no label hashing or allocation.
type series struct {
	method, route string
	duration      prometheus.Observer
	requests      *prometheus.CounterVec
	byStatus      [500]atomic.Pointer[counter] // statuses 100-599, made on first use
}

type counter struct{ prometheus.Counter }

// New registers the API's families and the Go runtime and process
// collectors on reg (a fresh registry per App, so tests never share one).
// The named limiters' and the login outcomes' series start at zero, so
// alert rules see them before the first event.
func New(reg *prometheus.Registry, limiters ...string) *Metrics {
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests answered, by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "Time to answer HTTP requests, by method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ratelimit_decisions_total", Help: "Rate-limiter decisions, by limiter and outcome.",
		}, []string{"limiter", "outcome"}),
		mail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mail_sent_total", Help: "E-mails handed to the mailer, by kind and outcome (sent, failed).",
		}, []string{"kind", "outcome"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auth_refresh_reuse_total", Help: "Spent refresh tokens presented again outside the grace window; each revoked its session.",
		}),
		bcrypt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bcrypt_rejected_total", Help: "Logins answered 503 because no bcrypt slot freed within BCRYPT_WAIT.",
		}),
		limiters:  make(map[string]*[numOutcomes]prometheus.Counter, len(limiters)),
		routes:    make(map[routeKey]*series),
		unmatched: make(map[string]*series),
	}
	logins := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "auth_logins_total", Help: "Login attempts, by outcome.",
	}, []string{"outcome"})
	for o, name := range loginNames {
		m.logins[o] = logins.WithLabelValues(name)
	}
	for _, l := range limiters {
		var cs [numOutcomes]prometheus.Counter
		for o, name := range outcomeNames {
			cs[o] = m.decisions.WithLabelValues(l, name)
		}
		m.limiters[l] = &cs
	}
	for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"} {
		m.unmatched[method] = m.newSeries(method, Unmatched)
	}
	reg.MustRegister(m.requests, m.durations, m.decisions, m.mail, logins, m.reuse, m.bcrypt,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) newSeries(method, route string) *series {
	return &series{method: method, route: route, duration: m.durations.WithLabelValues(method, route), requests: m.requests}
}

// Route declares a route pattern the router serves; requests matching no
// declared route are counted as Unmatched. Call it for every route before
// serving.
func (m *Metrics) Route(method, pattern string) {
	if m == nil {
		return
	}
	if k := (routeKey{method, pattern}); m.routes[k] == nil {
		m.routes[k] = m.newSeries(method, pattern)
	}
}

// Request counts one answered request; route is the matched pattern ("" for none).
func (m *Metrics) Request(method, route string, status int, seconds float64) {
	if m == nil {
		return
	}
	s := m.routes[routeKey{method, route}]
	if s == nil {
		if s = m.unmatched[method]; s == nil {
			s = m.unmatched["other"]
		}
	}
	s.duration.Observe(seconds)
	s.status(status).Inc()
}

func (s *series) status(code int) prometheus.Counter {
	if code < 100 || code > 599 {
		return s.requests.WithLabelValues(s.method, s.route, strconv.Itoa(code))
	}
	slot := &s.byStatus[code-100]
	if c := slot.Load(); c != nil {
		return c.Counter
	}
	c := &counter{s.requests.WithLabelValues(s.method, s.route, strconv.Itoa(code))}
	slot.Store(c) // a racing store holds the same child
	return c.Counter
}

// Decision counts one decision of the named limiter.
func (m *Metrics) Decision(limiter string, o Outcome) {
	if m == nil {
		return
	}
	if cs := m.limiters[limiter]; cs != nil {
		cs[o].Inc()
		return
	}
	m.decisions.WithLabelValues(limiter, outcomeNames[o]).Inc()
}

// Login counts one login attempt's outcome.
func (m *Metrics) Login(o LoginOutcome) {
	if m != nil {
		m.logins[o].Inc()
	}
}

// RefreshReuse counts one detected reuse of a spent refresh token.
func (m *Metrics) RefreshReuse() {
	if m != nil {
		m.reuse.Inc()
	}
}

// BcryptRejected counts one login refused for want of a bcrypt slot.
func (m *Metrics) BcryptRejected() {
	if m != nil {
		m.bcrypt.Inc()
	}
}

// Mail counts one e-mail of kind handed to the mailer.
func (m *Metrics) Mail(kind string, err error) {
	if m == nil {
		return
	}
	outcome := "sent"
	if err != nil {
		outcome = "failed"
	}
	m.mail.WithLabelValues(kind, outcome).Inc()
}

// WatchDB adds the database pool's statistics (go_sql_* series).
func (m *Metrics) WatchDB(db *sql.DB, name string) {
	if m != nil {
		m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Server is the /metrics listener, apart from the API's.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Serve starts serving /metrics on addr (port 0 picks a free one).
func (m *Metrics) Serve(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}, ln: ln}
	go s.srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed on Close
	return s, nil
}

// Addr is the address the listener is bound to.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the listener; a scrape in flight is cut off.
func (s *Server) Close() error { return s.srv.Close() }
