package tests

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"apisec/db/dbtest"
)

// failoverBound is the contract's: a Redis Cluster failover is followed
// within 5 seconds.
const failoverBound = 5 * time.Second

// Two API instances on a real 3-master, 3-replica Redis Cluster. A master
// dies (killed: refused connections; then another frozen: a black hole) and
// its replica takes over. While it is gone the requests whose keys live on
// it answer as the outage rules say (login 503, others let through), never
// 500; from 5 s after the promotion on, every limit on those keys applies
// again, exactly, across both instances.
func TestRedisClusterFailoverIsFollowedWithinFiveSeconds(t *testing.T) {
	t.Parallel()
	cl := dbtest.StartCluster(t) // before the envs: its cleanup runs after theirs
	checkSlotFunction(t, cl.Nodes[0].Addr)

	a := newEnv(t, map[string]string{
		"REDIS_URL":           "redis://" + cl.Nodes[0].Addr,
		"REDIS_CLUSTER_ADDRS": strings.Join(cl.Addrs(), ","),
		"REDIS_TIMEOUT":       "500ms", // room for a loaded machine
		// Each request names its client, so a test can pick which master
		// its IP's keys live on.
		"TRUSTED_PROXIES":          "127.0.0.1/32",
		"RATE_LIMIT_GLOBAL":        "100000/1m",
		"RATE_LIMIT_LOGIN":         "3/1m",
		"RATE_LIMIT_AUTHENTICATED": "5/1m",
		"RATE_LIMIT_ACCOUNT":       "100000/1m",
		"PLAN_RATE_LIMITS":         "probe=100000/1m",
	})
	b := newPeer(t, a, nil)
	envs := []*env{a, b}
	target := rlCreateUser(t, a, "viewer", "") // whose wrong passwords the logins send

	var ipSeq atomic.Int64
	// ipOn returns a client IP never used before whose rate-limit keys live
	// on master m (nil: anywhere).
	ipOn := func(m *dbtest.Node) string {
		for {
			n := ipSeq.Add(1)
			ip := fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
			if m == nil || m.Owns("{"+ip+"}") {
				return ip
			}
		}
	}
	// tokenOn signs in a new user of plan whose id's keys live on m.
	tokenOn := func(m *dbtest.Node, plan string) string {
		for range 100 {
			u := rlCreateUser(t, a, "viewer", plan)
			if m.Owns("{" + u.ID + "}") {
				return rlLogin(t, a, u.Email, "X-Forwarded-For", ipOn(nil))
			}
		}
		t.Fatalf("no user id of 100 hashed to %s", m.Addr)
		return ""
	}
	wrongLogin := map[string]string{"email": target.Email, "password": "not-the-password-1"}

	// exact checks that a fresh IP on m gets exactly 3 login attempts and a
	// user on m exactly 5 requests, alternating between the instances.
	exact := func(m *dbtest.Node, when string) {
		t.Helper()
		ip, tok := ipOn(m), tokenOn(m, "")
		for i := range 4 {
			r := envs[i%2].do("POST", "/auth/login", wrongLogin, "X-Forwarded-For", ip)
			if want := map[bool]int{true: 401, false: 429}[i < 3]; r.Status != want {
				t.Fatalf("%s: login attempt %d from %s answered %d %s, want %d", when, i+1, ip, r.Status, r.Body, want)
			}
		}
		for i := range 6 {
			r := envs[i%2].do("GET", "/projects", nil, bearer(tok)...)
			if want := map[bool]int{true: 200, false: 429}[i < 5]; r.Status != want || r.Header.Get("X-RateLimit-Limit") != "5" {
				t.Fatalf("%s: request %d of a user answered %d with limit %q, want %d with limit 5",
					when, i+1, r.Status, r.Header.Get("X-RateLimit-Limit"), want)
			}
		}
	}

	// failover cuts master m, promotes its replica a second later, and
	// checks what clients saw from the cut until failoverBound plus a
	// second after the promotion.
	failover := func(m *dbtest.Node, how string, cut func() error) {
		exact(m, "before the "+how)
		probeTok := tokenOn(m, "probe")
		type probe struct {
			op     string
			start  time.Time
			end    time.Time
			status int
			body   string
			failed bool // refused for the outage, or let through uncounted
		}
		var (
			mu     sync.Mutex
			probes []probe
			wg     sync.WaitGroup
			stop   = make(chan struct{})
		)
		for w := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					e := envs[(w+i)%2]
					p := probe{start: time.Now()}
					var r response
					var err error
					switch i % 3 {
					case 0:
						p.op = "login"
						// No password: the login limiter decides, no bcrypt runs.
						r, err = e.send("POST", "/auth/login", map[string]string{"email": target.Email}, "X-Forwarded-For", ipOn(m))
						p.failed = r.Status != http.StatusBadRequest
					case 1:
						p.op = "status"
						r, err = e.send("GET", "/public/status", nil, "X-Forwarded-For", ipOn(m))
					default:
						p.op = "projects"
						r, err = e.send("GET", "/projects", nil, bearer(probeTok)...)
					}
					if p.op != "login" {
						p.failed = r.Status != http.StatusOK || r.Header.Get("X-RateLimit-Limit") == ""
					}
					p.status, p.body, p.end = r.Status, string(r.Body), time.Now()
					if err != nil {
						p.status = 0
					}
					// At most two limiters wait REDIS_TIMEOUT each before their breakers open.
					if took := p.end.Sub(p.start); took > 2*time.Second {
						t.Errorf("%s took %v", p.op, took)
					}
					mu.Lock()
					probes = append(probes, p)
					mu.Unlock()
				}
			})
		}
		time.Sleep(300 * time.Millisecond)
		cutAt := time.Now()
		if err := cut(); err != nil {
			t.Fatalf("%s %s: %v", how, m.Addr, err)
		}
		time.Sleep(time.Second) // the outage before the cluster would react
		promoted := cl.Promote(m.Replica)
		time.Sleep(failoverBound + time.Second)
		close(stop)
		wg.Wait()

		var lastFailure time.Time
		failedInOutage, after := 0, 0
		for _, p := range probes {
			ok := map[string][]int{"login": {400, 503}, "status": {200}, "projects": {200}}[p.op]
			if !slices.Contains(ok, p.status) {
				t.Errorf("%s: %s answered %d, %v after the cut", how, p.op, p.status, p.start.Sub(cutAt).Round(time.Millisecond))
			}
			switch {
			case p.end.Before(cutAt):
				if p.failed {
					t.Errorf("%s: %s failed (%d %s) before the cut", how, p.op, p.status, p.body)
				}
			case p.start.Before(promoted) && p.failed:
				failedInOutage++
			case !p.start.Before(promoted.Add(failoverBound)):
				after++
				if p.failed {
					t.Errorf("%s: %s failed (%d %s) %v after the promotion", how, p.op, p.status, p.body, p.start.Sub(promoted).Round(time.Millisecond))
				}
			}
			if p.failed && p.start.After(lastFailure) {
				lastFailure = p.start
			}
		}
		if failedInOutage == 0 {
			t.Errorf("%s: no request failed while %s was gone: nothing was cut", how, m.Addr)
		}
		if after == 0 {
			t.Errorf("%s: no request was sent after the bound", how)
		}
		t.Logf("%s of %s: %d requests, %d failed before the promotion; the last failure began %v after it",
			how, m.Addr, len(probes), failedInOutage, lastFailure.Sub(promoted).Round(time.Millisecond))
		exact(m, "after the "+how)
	}

	masters := cl.Masters()
	failover(masters[0], "kill", masters[0].Kill)
	failover(masters[1], "freeze", masters[1].Freeze)
}

// checkSlotFunction makes sure dbtest.Slot, which picks the keys a test
// cuts, agrees with the server.
func checkSlotFunction(t *testing.T, addr string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for _, k := range []string{"rl:login:{10.0.0.1}", "plain", "{user-1}x", "a{}b", "{}{x}"} {
		want, err := c.ClusterKeySlot(context.Background(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := dbtest.Slot(k); int64(got) != want {
			t.Fatalf("dbtest.Slot(%q) = %d, Redis says %d", k, got, want)
		}
	}
}
