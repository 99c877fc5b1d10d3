package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Counting a request or a decision runs on every request: it must not
// allocate once its series exist.
func TestCountingAllocatesNothing(t *testing.T) {
	m := New(prometheus.NewRegistry(), "global")
	m.Route("GET", "/projects/:id")
	for _, c := range []struct {
		name string
		fn   func()
	}{
		{"request", func() { m.Request("GET", "/projects/:id", 200, 0.001) }},
		{"unmatched", func() { m.Request("BREW", "", 404, 0.001) }},
		{"decision", func() { m.Decision("global", Allowed) }},
	} {
		if n := testing.AllocsPerRun(100, c.fn); n != 0 {
			t.Errorf("%s: %v allocations per call", c.name, n)
		}
	}
	var nilM *Metrics
	nilM.Request("GET", "/", 200, 0) // METRICS_ADDR empty: a no-op, not a panic
	nilM.Decision("global", Limited)
}

// Requests are counted under their route pattern; a path no route has, or
// a method nobody uses, under fixed values.
func TestRequestsAreCountedByPatternWithBoundedLabels(t *testing.T) {
	m := New(prometheus.NewRegistry())
	m.Route("GET", "/projects/:id")
	m.Request("GET", "/projects/:id", 200, 0.01)
	m.Request("GET", "/projects/:id", 200, 0.01)
	m.Request("GET", "/projects/:id", 404, 0.01)
	m.Request("GET", "", 404, 0.01)
	m.Request("BREW", "", 405, 0.01)
	m.Request("GET", "/not/declared", 200, 0.01)
	want := `
# HELP http_requests_total HTTP requests answered, by method, route pattern and status.
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/projects/:id",status="200"} 2
http_requests_total{method="GET",route="/projects/:id",status="404"} 1
http_requests_total{method="GET",route="unmatched",status="200"} 1
http_requests_total{method="GET",route="unmatched",status="404"} 1
http_requests_total{method="other",route="unmatched",status="405"} 1
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "http_requests_total"); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkRequest(b *testing.B) {
	m := New(prometheus.NewRegistry(), "global")
	m.Route("GET", "/projects")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request("GET", "/projects", 200, 0.002)
			m.Decision("global", Allowed)
		}
	})
}
