package passwords

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"apisec/app/errs"
)

// newTestHasher returns a Hasher at bcrypt's cheapest cost.
func newTestHasher(t testing.TB, maxConcurrent int, maxWait time.Duration) *Hasher {
	t.Helper()
	h, err := NewHasher(bcrypt.MinCost, maxConcurrent, maxWait)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// saturate takes every slot of h until the test ends, so the next bcrypt
// call must wait: deterministic, with no race against a real hash.
func saturate(t *testing.T, h *Hasher) {
	t.Helper()
	for range cap(h.slots) {
		h.slots <- struct{}{}
	}
	t.Cleanup(func() {
		for range cap(h.slots) {
			<-h.slots
		}
	})
}

func TestNewHasherRefusesCostsBcryptWouldNotHonour(t *testing.T) {
	t.Parallel()
	for _, cost := range []int{0, bcrypt.MinCost - 1, bcrypt.MaxCost + 1} {
		if _, err := NewHasher(cost, 1, time.Second); err == nil {
			t.Errorf("NewHasher(cost %d) succeeded, want an error", cost)
		}
	}
}

func TestNewHasherDefaults(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, 0, 0)
	if cap(h.slots) < 1 || h.maxWait != DefaultMaxWait || h.Cost() != bcrypt.MinCost {
		t.Fatalf("slots %d, maxWait %v, cost %d", cap(h.slots), h.maxWait, h.Cost())
	}
}

func TestHashThenCompareRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	h := newTestHasher(t, 2, time.Second)
	const pw = "Corr3ct horse bättery"
	hash, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$2a$04$") || strings.Contains(hash, pw) {
		t.Fatalf("unexpected hash %q", hash)
	}
	if again, _ := h.Hash(ctx, pw); again == hash {
		t.Error("two hashes of one password are equal: salt missing")
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{
		{pw, true},
		{"corr3ct horse bättery", false},
		{pw + " ", false},
		{"", false},
	} {
		ok, err := h.Compare(ctx, hash, tc.password)
		if err != nil || ok != tc.want {
			t.Errorf("Compare(%q) = %v, %v; want %v, nil", tc.password, ok, err, tc.want)
		}
	}
}

func TestHashRefusesPasswordsOverBcryptsLimit(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, 1, time.Second)
	if _, err := h.Hash(t.Context(), strings.Repeat("a", MaxBytes+1)); !errors.Is(err, bcrypt.ErrPasswordTooLong) {
		t.Fatalf("got %v, want bcrypt.ErrPasswordTooLong", err)
	}
}

func TestCompareRejectsInputsLongerThanBcryptReads(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	h := newTestHasher(t, 1, time.Second)
	pw := strings.Repeat("a", MaxBytes)
	hash, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	// bcrypt alone would accept this: it only reads the first 72 bytes.
	if ok, err := h.Compare(ctx, hash, pw+"tail"); ok || err != nil {
		t.Fatalf("Compare(73+ bytes) = %v, %v; want false, nil", ok, err)
	}
}

func TestCompareWithMalformedHashIsAnError(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, 1, time.Second)
	if ok, err := h.Compare(t.Context(), "not a hash", "Password1x"); ok || err == nil {
		t.Fatalf("got %v, %v; want false and an error", ok, err)
	}
}

func TestCompareDummyAlwaysFails(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, 1, time.Second)
	for _, pw := range []string{"", "Password123", "Cafe\u0301-Noir-42", strings.Repeat("x", 100)} {
		if ok, err := h.CompareDummy(t.Context(), h.Cost(), pw); ok || err != nil {
			t.Errorf("CompareDummy(%q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
}

func TestDummyHashesHaveTheCostAskedFor(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, 1, time.Second)
	// An unknown address must cost what the accounts on that cost cost, not
	// what the configured cost does: BCRYPT_COST may have been raised since.
	for _, cost := range []int{bcrypt.MinCost, bcrypt.MinCost + 1, bcrypt.MinCost + 2} {
		dummy, err := h.dummy(cost)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := bcrypt.Cost(dummy); got != cost {
			t.Errorf("dummy for cost %d has cost %d", cost, got)
		}
		if again, _ := h.dummy(cost); string(again) != string(dummy) {
			t.Errorf("dummy for cost %d made twice", cost)
		}
	}
	if err := h.WarmDummy(bcrypt.MaxCost + 1); err == nil {
		t.Error("WarmDummy accepted a cost bcrypt does not have")
	}
}

func TestVerifyTriesNFCThenTheBytesAsTyped(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	h := newTestHasher(t, 2, time.Second)
	const nfc, nfd = "Caf\u00e9-Noir-42", "Cafe\u0301-Noir-42"
	hash, err := h.Hash(ctx, nfd) // hashed in NFC whatever was typed
	if err != nil {
		t.Fatal(err)
	}
	for _, typed := range []string{nfc, nfd} {
		if ok, rehash, err := h.Verify(ctx, hash, typed); !ok || rehash || err != nil {
			t.Errorf("Verify(%q) = %v, %v, %v; want a match needing no rehash", typed, ok, rehash, err)
		}
	}
	// A hash from before normalisation holds the bytes as typed (NFD here):
	// it still matches them, and asks to be stored again in NFC.
	legacy, _ := bcrypt.GenerateFromPassword([]byte(nfd), h.Cost())
	if ok, rehash, err := h.Verify(ctx, string(legacy), nfd); !ok || !rehash || err != nil {
		t.Errorf("legacy hash: Verify = %v, %v, %v; want a match needing a rehash", ok, rehash, err)
	}
	if ok, _, _ := h.Verify(ctx, string(legacy), "Cafe-Noir-42"); ok {
		t.Error("legacy hash matched another password")
	}
	other, _ := bcrypt.GenerateFromPassword([]byte(nfc), h.Cost()+1)
	if ok, rehash, _ := h.Verify(ctx, string(other), nfc); !ok || !rehash {
		t.Errorf("hash of another cost: %v, %v; want a match needing a rehash", ok, rehash)
	}
}

func TestHashLimitsTheNFCFormToMaxBytes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	h := newTestHasher(t, 1, time.Second)
	// 36 × "e" + U+0301 is 108 bytes as typed, 72 in NFC (36 × "é").
	typed := strings.Repeat("e\u0301", 36)
	hash, err := h.Hash(ctx, typed)
	if err != nil {
		t.Fatalf("Hash(%d bytes typed, %d in NFC) = %v", len(typed), len(Normalize(typed)), err)
	}
	if ok, err := h.Compare(ctx, hash, strings.Repeat("\u00e9", 36)); !ok || err != nil {
		t.Fatalf("Compare(NFC) = %v, %v", ok, err)
	}
}

func TestNeedsRehashWhenCostDiffers(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, 1, time.Second)
	same, _ := h.Hash(t.Context(), "Password1x")
	other, _ := bcrypt.GenerateFromPassword([]byte("Password1x"), bcrypt.MinCost+1)
	if h.NeedsRehash(same) {
		t.Error("hash at the current cost needs no rehash")
	}
	if !h.NeedsRehash(string(other)) {
		t.Error("hash at another cost needs a rehash")
	}
	if !h.NeedsRehash("garbage") {
		t.Error("unreadable hash needs a rehash")
	}
}

func TestSaturatedHasherAnswersUnavailable(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, 2, 20*time.Millisecond)
	hash, err := h.Hash(t.Context(), "Password1x")
	if err != nil {
		t.Fatal(err)
	}
	saturate(t, h)

	calls := map[string]func() error{
		"Hash":         func() error { _, err := h.Hash(t.Context(), "Password1x"); return err },
		"Compare":      func() error { _, err := h.Compare(t.Context(), hash, "Password1x"); return err },
		"CompareDummy": func() error { _, err := h.CompareDummy(t.Context(), h.Cost(), "Password1x"); return err },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		if !errors.Is(err, errs.ErrUnavailable) {
			t.Errorf("%s: got %v, want errs.ErrUnavailable", name, err)
		}
		if e, ok := errs.As(err); !ok || e.Kind != errs.Unavailable {
			t.Errorf("%s: errs.As(%v) = %v, %v; want the 503", name, err, e, ok)
		}
		if waited := time.Since(start); waited < 20*time.Millisecond {
			t.Errorf("%s gave up after %v, before maxWait", name, waited)
		}
	}
}

func TestHasherGetsASlotOnceOneFrees(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, 1, time.Minute)
	h.slots <- struct{}{}
	done := make(chan error, 1)
	go func() { _, err := h.Hash(context.Background(), "Password1x"); done <- err }()
	<-h.slots
	if err := <-done; err != nil {
		t.Fatalf("waiting call failed after a slot freed: %v", err)
	}
}

func TestCancelledContextStopsTheWait(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, 1, time.Minute)
	saturate(t, h)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := h.Hash(ctx, "Password1x"); done <- err }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, errs.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want errs.ErrUnavailable wrapping context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Hash kept waiting after its context was cancelled")
	}
}

func TestDoneContextDoesNoWorkEvenWithAFreeSlot(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, 1, time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Compare(ctx, "$2a$04$invalid", "x"); !errors.Is(err, errs.ErrUnavailable) {
		t.Fatalf("got %v, want errs.ErrUnavailable", err)
	}
}
