package passwords

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"apisec/app/errs"
)

// DefaultMaxWait is how long a bcrypt call waits for a free slot when
// NewHasher is given no wait: long enough to ride out a burst of logins,
// short enough that a flood gets quick 503s instead of a growing queue.
const DefaultMaxWait = 5 * time.Second

// ErrNoSlot is in the error of a call that waited its whole maxWait for a
// bcrypt slot: back-pressure, which operators count, not a gone client.
var ErrNoSlot = errors.New("bcrypt: no free slot")

// Hasher hashes and checks passwords with bcrypt. Every bcrypt call holds
// one of a fixed number of slots, so a burst of logins cannot occupy every
// core (bcrypt is deliberately slow) and starve the rest of the API; callers
// that wait too long for a slot get errs.ErrUnavailable.
type Hasher struct {
	cost    int
	slots   chan struct{}
	maxWait time.Duration
	// dummies[c] makes, once, the dummy hash of cost c (see CompareDummy).
	dummies [bcrypt.MaxCost + 1]func() ([]byte, error)
}

// NewHasher returns a Hasher that hashes at cost, runs at most maxConcurrent
// bcrypt calls at once (runtime.NumCPU() if maxConcurrent <= 0) and lets a
// call wait at most maxWait for a slot (DefaultMaxWait if maxWait <= 0).
func NewHasher(cost, maxConcurrent int, maxWait time.Duration) (*Hasher, error) {
	// bcrypt.GenerateFromPassword would silently replace a cost below
	// MinCost with DefaultCost; refuse instead so the setting means what it says.
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d outside [%d, %d]", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.NumCPU()
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	h := &Hasher{cost: cost, slots: make(chan struct{}, maxConcurrent), maxWait: maxWait}
	// Each dummy hash is made once, on first use, from a random secret
	// nobody knows, so comparing against it always fails after a full
	// bcrypt run of its cost.
	for c := bcrypt.MinCost; c <= bcrypt.MaxCost; c++ {
		h.dummies[c] = sync.OnceValues(func() ([]byte, error) {
			return bcrypt.GenerateFromPassword([]byte(rand.Text()), c)
		})
	}
	return h, nil
}

// Cost is the bcrypt cost new hashes get.
func (h *Hasher) Cost() int { return h.cost }

// Hash returns the bcrypt hash of password's NFC form (Normalize).
// Passwords over MaxBytes are refused by bcrypt; Validate rejects them
// earlier with a clear message.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	password = Normalize(password)
	var hash []byte
	var err error
	if aerr := h.run(ctx, func() { hash, err = bcrypt.GenerateFromPassword([]byte(password), h.cost) }); aerr != nil {
		return "", aerr
	}
	if err != nil {
		return "", fmt.Errorf("bcrypt hash: %w", err)
	}
	return string(hash), nil
}

// Compare reports whether password matches hash, in time that depends on
// the hash's cost, not on how much of the password matches. A malformed hash
// is an error; a wrong password is (false, nil).
func (h *Hasher) Compare(ctx context.Context, hash, password string) (bool, error) {
	ok, _, err := h.Verify(ctx, hash, password)
	return ok, err
}

// Verify is Compare that also says whether a match should be stored again
// with Hash: the hash is of another cost than the configured one, or it
// matched the password only as typed, not in NFC. Hashes made before
// passwords were normalised hold the bytes as typed, so those are tried
// second, when they differ; a successful login then rehashes, and the NFC
// form alone works from then on. The raw try also covers a character that a
// later Unicode version gives a decomposition, which would change its NFC.
func (h *Hasher) Verify(ctx context.Context, hash, password string) (ok, rehash bool, err error) {
	nfc := Normalize(password)
	if ok, err = h.compare(ctx, hash, nfc); ok || err != nil || nfc == password {
		return ok, ok && h.NeedsRehash(hash), err
	}
	ok, err = h.compare(ctx, hash, password)
	return ok, ok, err
}

// compare runs one bcrypt comparison.
func (h *Hasher) compare(ctx context.Context, hash, password string) (bool, error) {
	var err error
	if aerr := h.run(ctx, func() { err = bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) }); aerr != nil {
		return false, aerr
	}
	switch {
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("bcrypt compare: %w", err)
	}
	// bcrypt reads only the first MaxBytes bytes, so a longer input would
	// match the hash of its prefix. No stored password can be that long, so
	// the full cost has been spent and the answer is no.
	return len(password) <= MaxBytes, nil
}

// CompareDummy spends the same bcrypt time as Verify of password against a
// stored hash of the given cost (the configured one when cost is out of
// range) and always returns false. Call it when no user has the given
// e-mail, so a login's duration does not tell whether an account exists;
// see accounts for how the cost is chosen while stored hashes are on
// several costs.
func (h *Hasher) CompareDummy(ctx context.Context, cost int, password string) (bool, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		cost = h.cost
	}
	// Made once per cost and process, before any request if warmed, and
	// outside the slots: a second wait for one would make the dummy path
	// slower than a stored hash's under load.
	dummy, err := h.dummy(cost)
	if err != nil {
		return false, err
	}
	// The very path of a stored hash: as many bcrypt runs as Verify makes
	// when nothing matches (two for a password not in NFC).
	_, _, err = h.Verify(ctx, string(dummy), password)
	return false, err
}

// WarmDummy makes the dummy hash of cost now, so that the first unknown
// address compared at that cost does not pay for an extra bcrypt run.
func (h *Hasher) WarmDummy(cost int) error {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return fmt.Errorf("bcrypt cost %d out of range", cost)
	}
	_, err := h.dummy(cost)
	return err
}

// dummy returns the dummy hash of cost, made on first use.
func (h *Hasher) dummy(cost int) ([]byte, error) {
	d, err := h.dummies[cost]()
	if err != nil {
		return nil, fmt.Errorf("bcrypt dummy hash: %w", err)
	}
	return d, nil
}

// NeedsRehash reports whether hash was made at another cost than this
// Hasher's (or cannot be read), so the caller may store a fresh hash after a
// successful login.
func (h *Hasher) NeedsRehash(hash string) bool {
	cost, err := bcrypt.Cost([]byte(hash))
	return err != nil || cost != h.cost
}

// run calls fn while holding a slot. It returns errs.ErrUnavailable, without
// calling fn, when no slot frees up within maxWait or ctx ends first; the
// context's error is wrapped too so logs can tell a gone client from overload.
func (h *Hasher) run(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bcrypt: %w: %w", errs.ErrUnavailable, err)
	}
	select {
	case h.slots <- struct{}{}:
	default:
		// Only allocate a timer when we actually have to wait.
		timer := time.NewTimer(h.maxWait)
		defer timer.Stop()
		select {
		case h.slots <- struct{}{}:
		case <-timer.C:
			return fmt.Errorf("%w within %v: %w", ErrNoSlot, h.maxWait, errs.ErrUnavailable)
		case <-ctx.Done():
			return fmt.Errorf("bcrypt: %w: %w", errs.ErrUnavailable, ctx.Err())
		}
	}
	defer func() { <-h.slots }()
	fn()
	return nil
}
