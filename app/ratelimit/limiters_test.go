package ratelimit

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"apisec/models"
)

func perMinute(n int64) limiter.Rate { return limiter.Rate{Limit: n, Period: time.Minute} }

func TestNewLimitersBuildsOneNamedStorePerLimiterThatIsOn(t *testing.T) {
	t.Parallel()
	var names []string
	factory := func(name string) (Store, error) {
		names = append(names, name)
		return NewMemoryStore(), nil
	}
	ls, err := NewLimiters(Rates{
		ByPolicy: map[string]limiter.Rate{Global.Name: perMinute(100), Authenticated.Name: perMinute(300)},
		Plans:    map[string]limiter.Rate{"free": perMinute(60), "vip": {}},
	}, factory, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ls.Close() })

	slices.Sort(names)
	if want := []string{"authenticated", "global", "plan:free"}; !slices.Equal(names, want) {
		t.Fatalf("stores %v, want %v", names, want)
	}
	if ls.Of(Login) != nil {
		t.Error("login is off but has a limiter")
	}
	if len(ls.closers) != 3 {
		t.Errorf("%d closers, want 3", len(ls.closers))
	}
	user := models.NewID()
	tests := []struct {
		role   models.Role
		plan   string
		bucket string // "" means not limited
		limit  int64
	}{
		{models.RoleAdmin, "free", "", 0},
		{models.RoleViewer, "free", "plan:free", 60},
		{models.RoleEditor, "vip", "", 0},
		{models.RoleViewer, "gold", "authenticated", 300},
		{models.RoleViewer, "", "authenticated", 300},
	}
	for _, tt := range tests {
		res, limited, err := ls.Of(Authenticated).Take(context.Background(), Subject{UserID: user, Role: tt.role, Plan: tt.plan}, 0)
		if err != nil || limited != (tt.bucket != "") || res.Name != tt.bucket || res.Limit != tt.limit {
			t.Errorf("%s on %q: %+v, limited %v, %v; want bucket %q of %d", tt.role, tt.plan, res, limited, err, tt.bucket, tt.limit)
		}
	}
	if _, limited, _ := ls.Of(Authenticated).Take(context.Background(), Subject{ClientIP: "192.0.2.1"}, 1); limited {
		t.Error("a request without a caller spent a user budget")
	}
}

func TestEveryPolicyIsCompleteAndNamedOnce(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, p := range Policies {
		if p.Name == "" || p.Setting == "" || p.Key == nil || p.Refuse == nil || seen[p.Name] || seen[p.Setting] {
			t.Errorf("policy %+v is incomplete or repeats a name or setting", p)
		}
		if _, _, err := ParseRate(p.Default); err != nil {
			t.Errorf("%s: default %q: %v", p.Name, p.Default, err)
		}
		seen[p.Name], seen[p.Setting] = true, true
	}
}

func TestNewLimitersReportsAStoreFailure(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	_, err := NewLimiters(Rates{ByPolicy: map[string]limiter.Rate{Login.Name: perMinute(5)}},
		func(string) (Store, error) { return nil, boom }, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}

func TestOfOnNilLimitersIsOff(t *testing.T) {
	t.Parallel()
	var ls *Limiters
	if ls.Of(Global) != nil {
		t.Fatal("want nil")
	}
}

// Retry-After and X-RateLimit-Reset come from the exact instant a slot
// frees; neither may exceed the window, whatever the sub-second offsets.
func TestWaitAndResetNeverExceedTheWindow(t *testing.T) {
	t.Parallel()
	window := time.Minute
	for _, tt := range []struct {
		now, resetAt  time.Duration // after a whole second
		seconds, unix int64         // WaitSeconds, ResetUnix minus the whole second
	}{
		{0, window, 60, 60},
		{900 * time.Millisecond, 900*time.Millisecond + window, 60, 60},
		{900 * time.Millisecond, 100*time.Millisecond + window, 60, 60},
		{100 * time.Millisecond, 100*time.Millisecond + window + time.Second, 60, 60}, // a store clock ahead: clamped
		{0, 30*time.Second + time.Nanosecond, 31, 30},
		{0, time.Nanosecond, 1, 0},
		{time.Second, 0, 0, 1}, // already free
	} {
		base := time.Unix(1_750_000_000, 0)
		r := Result{Decision: Decision{ResetAt: base.Add(tt.resetAt)}, Window: window}
		now := base.Add(tt.now)
		if got := r.WaitSeconds(now); got != tt.seconds {
			t.Errorf("now +%v, reset +%v: WaitSeconds %d, want %d", tt.now, tt.resetAt, got, tt.seconds)
		}
		if got := r.ResetUnix(now) - base.Unix(); got != tt.unix {
			t.Errorf("now +%v, reset +%v: ResetUnix +%d, want +%d", tt.now, tt.resetAt, got, tt.unix)
		}
		if r.WaitSeconds(now) > int64(window/time.Second) || float64(r.ResetUnix(now))-float64(now.UnixNano())/1e9 > window.Seconds() {
			t.Errorf("now +%v, reset +%v: past the window", tt.now, tt.resetAt)
		}
	}
}
