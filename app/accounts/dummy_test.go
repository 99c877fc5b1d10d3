package accounts

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"apisec/models"
)

// storeUsers adds n users whose password hashes are of cost.
func (e *env) storeUsers(t *testing.T, prefix string, n, cost int) {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), cost)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now().UTC()
	for i := range n {
		u := &models.User{ID: models.NewID(), Email: fmt.Sprintf("%s%d@example.com", prefix, i), PasswordHash: string(hash),
			Role: models.RoleViewer, Plan: models.DefaultPlan, EmailVerified: true, CreatedAt: now, UpdatedAt: now}
		if err := models.CreateUser(e.db, u); err != nil {
			t.Fatal(err)
		}
	}
}

// dummyCosts is how many of n unknown addresses get each dummy cost.
func dummyCosts(s *Service, n int) map[int]int {
	got := map[int]int{}
	for i := range n {
		got[s.dummyCost(context.Background(), fmt.Sprintf("nobody%d@example.com", i))]++
	}
	return got
}

func TestUnknownAddressesAreComparedAtTheCostsOfTheStoredHashes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *Deps) { d.DummyKey = []byte("one key for every instance") })
	cfg := e.svc.hasher.Cost() // 4
	if got := dummyCosts(e.svc, 10); got[cfg] != 10 {
		t.Fatalf("no stored hashes: dummy costs %v, want all %d", got, cfg)
	}

	// BCRYPT_COST was raised: every stored hash is still on the old cost,
	// so an unknown address must cost what they cost, not the new setting.
	old := cfg + 1
	e.storeUsers(t, "old", 3, old)
	if err := e.svc.RefreshCosts(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := dummyCosts(e.svc, 50); got[old] != 50 {
		t.Fatalf("all hashes of cost %d: dummy costs %v", old, got)
	}

	// A quarter are rehashed: about a quarter of unknown addresses move, each
	// for good, and another instance with the same key agrees on each.
	e.storeUsers(t, "new", 1, cfg)
	if err := e.svc.RefreshCosts(t.Context()); err != nil {
		t.Fatal(err)
	}
	const n = 2000
	got := dummyCosts(e.svc, n)
	if got[cfg]+got[old] != n || got[cfg] < n*20/100 || got[cfg] > n*30/100 {
		t.Fatalf("3 hashes of cost %d, 1 of %d: dummy costs of %d addresses %v", old, cfg, n, got)
	}
	twin := New(e.deps)
	t.Cleanup(twin.Close)
	stranger := New(func() Deps { d := e.deps; d.DummyKey = []byte("another key"); return d }())
	t.Cleanup(stranger.Close)
	differ := 0
	for i := range 200 {
		a := fmt.Sprintf("nobody%d@example.com", i)
		c := e.svc.dummyCost(t.Context(), a)
		if again := e.svc.dummyCost(t.Context(), a); again != c {
			t.Fatalf("%s: cost %d, then %d", a, c, again)
		}
		if other := twin.dummyCost(t.Context(), a); other != c {
			t.Fatalf("%s: cost %d here, %d on an instance with the same key", a, c, other)
		}
		if stranger.dummyCost(t.Context(), a) != c {
			differ++
		}
	}
	if differ == 0 {
		t.Error("another key picks the same cost for every address: the choice is not keyed")
	}
}

func TestDummyCostsFollowRehashesOnceTheyAreStale(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.svc.hasher.Cost()
	e.storeUsers(t, "u", 2, cfg+1)
	if got := dummyCosts(e.svc, 20); got[cfg+1] != 20 { // the first read waits for the table
		t.Fatalf("dummy costs %v, want all %d", got, cfg+1)
	}
	// Every account logs in and is rehashed at the configured cost.
	if err := e.db.Model(&models.User{}).Where("1 = 1").Update("password_hash", mustHash(t, cfg)).Error; err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(CostsTTL - time.Second)
	if got := dummyCosts(e.svc, 20); got[cfg+1] != 20 {
		t.Fatalf("within CostsTTL: dummy costs %v, want the cached %d", got, cfg+1)
	}
	e.clock.Advance(time.Second) // stale: the next unknown address starts a read
	deadline := time.Now().Add(5 * time.Second)
	for dummyCosts(e.svc, 20)[cfg] != 20 {
		if time.Now().After(deadline) {
			t.Fatalf("dummy costs %v long after CostsTTL, want all %d", dummyCosts(e.svc, 20), cfg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustHash(t *testing.T, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}
