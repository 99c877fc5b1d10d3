package tests

import (
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"apisec/db/dbtest"
)

// BenchmarkStatusWithRedis is S1 (GET /public/status, 64 connections) on a
// healthy Redis and on a black-holed one (it accepts and never answers),
// at the production REDIS_TIMEOUT. The global limiter fails open, so the
// black-holed run should keep at least half the healthy throughput with a
// p99 under 250 ms: the breaker stops asking Redis after three timeouts.
//
//	TEST_DATABASE_URL=… TEST_REDIS_URL=… go test ./tests -run '^$' -bench StatusWithRedis -benchtime 20000x
func BenchmarkStatusWithRedis(b *testing.B) {
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		b.Skip("needs TEST_REDIS_URL: the embedded default has no Redis to lose")
	}
	for _, mode := range []dbtest.Mode{dbtest.Forward, dbtest.BlackHole} {
		b.Run(mode.String(), func(b *testing.B) {
			proxy, proxied := dbtest.ProxyURL(b, redisURL)
			// Limits high enough never to refuse: each request still makes
			// its limiter's Redis round trip, as in the load benchmark.
			e := newEnv(b, map[string]string{"REDIS_URL": proxied, "REDIS_TIMEOUT": "100ms", "RATE_LIMIT_GLOBAL": "1000000/1s"})
			b.Cleanup(func() { proxy.SetMode(dbtest.Forward) }) // before the harness deletes its keys
			if r := e.do("GET", "/public/status", nil); r.Status != http.StatusOK {
				b.Fatalf("status %d before the fault", r.Status)
			}
			proxy.SetMode(mode)
			loadStatus(b, e.URL+"/public/status", 64)
		})
	}
}

// loadStatus sends b.N GETs to url from conns keep-alive connections and
// reports req/s and the p99 latency; any answer but 200 fails.
func loadStatus(b *testing.B, url string, conns int) {
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns},
		Timeout:   5 * time.Second,
	}
	b.Cleanup(client.CloseIdleConnections)
	latencies := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range conns {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				t0 := time.Now()
				resp, err := client.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				latencies[i] = time.Since(t0)
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
}
