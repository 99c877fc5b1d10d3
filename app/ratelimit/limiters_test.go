package ratelimit

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"
)

func TestNewLimitersBuildsOneNamedStorePerLimiterThatIsOn(t *testing.T) {
	t.Parallel()
	var names []string
	factory := func(name string) (limiter.Store, error) {
		names = append(names, name)
		return NewMemoryStore(), nil
	}
	perMinute := func(n int64) limiter.Rate { return limiter.Rate{Limit: n, Period: time.Minute} }
	ls, err := NewLimiters(Rates{
		Global:        perMinute(100),
		Authenticated: perMinute(300),
		Plans:         map[string]limiter.Rate{"free": perMinute(60), "vip": {}},
	}, factory, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ls.Close() })

	slices.Sort(names)
	if want := []string{"authenticated", "global", "plan:free"}; !slices.Equal(names, want) {
		t.Fatalf("stores %v, want %v", names, want)
	}
	if ls.Login != nil {
		t.Error("Login is off but not nil")
	}
	if len(ls.closers) != 3 {
		t.Errorf("%d closers, want 3", len(ls.closers))
	}
	tests := []struct {
		role, plan string
		want       *limiter.Limiter
	}{
		{"admin", "free", nil},
		{"viewer", "free", ls.Plans["free"]},
		{"editor", "vip", nil},
		{"viewer", "gold", ls.Authenticated},
		{"viewer", "", ls.Authenticated},
	}
	for _, tt := range tests {
		if got := ls.ForUser(tt.role, tt.plan); got != tt.want {
			t.Errorf("ForUser(%q, %q) = %p, want %p", tt.role, tt.plan, got, tt.want)
		}
	}
	if ls.Plans["free"].Rate.Limit != 60 {
		t.Errorf("free plan limit %d", ls.Plans["free"].Rate.Limit)
	}
}

func TestNewLimitersReportsAStoreFailure(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	_, err := NewLimiters(Rates{Login: limiter.Rate{Limit: 5, Period: time.Minute}},
		func(string) (limiter.Store, error) { return nil, boom }, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}

func TestForUserOnNilLimitersIsOff(t *testing.T) {
	t.Parallel()
	var ls *Limiters
	if ls.ForUser("viewer", "") != nil {
		t.Fatal("want nil")
	}
}
