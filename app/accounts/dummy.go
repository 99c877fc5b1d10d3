package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"time"

	"apisec/models"
)

// CostsTTL is how long a count of the stored hashes' bcrypt costs is used
// before it is read again (in the background, by the next unknown address).
const CostsTTL = time.Minute

// costShares is the stored hashes' bcrypt costs: costs ascending, and
// upTo[i] the share (0–1] of hashes of cost costs[i] or below.
type costShares struct {
	costs []int
	upTo  []float64
	read  time.Time
	seq   uint64 // which RefreshCosts read it: a slower, older read never replaces a newer one
}

// dummyCost is the bcrypt cost an unknown address is compared at.
//
// After BCRYPT_COST changes, stored hashes are on two costs until their
// owners log in again (and are rehashed), so a known address answers in the
// time of its own hash's cost. An unknown one answering in the configured
// cost's time would stand out; one answering in the most common cost's time
// would give away every account already upgraded. Instead each unknown
// address gets a cost of its own, drawn with the costs' shares among stored
// hashes: an HMAC of the address under a key derived from the JWT key (so
// every instance answers it alike and nobody outside can compute it) picks a
// point in [0, 1). An observer who times one address sees one cost,
// repeatedly, as likely as for an account; as rehashes move the shares, the
// addresses near the boundary move to the new cost, as accounts do.
func (s *Service) dummyCost(ctx context.Context, email string) int {
	p := s.costs.Load()
	if p == nil {
		p = s.loadCosts(ctx)
	} else if s.now().Sub(p.read) >= CostsTTL {
		s.refreshCostsLater(ctx)
	}
	if p == nil || len(p.costs) == 0 {
		return s.hasher.Cost()
	}
	mac := hmac.New(sha256.New, s.dummyKey)
	mac.Write([]byte(email))
	point := float64(binary.BigEndian.Uint64(mac.Sum(nil))>>11) / (1 << 53) // uniform in [0, 1)
	for i, upTo := range p.upTo {
		if point < upTo {
			return p.costs[i]
		}
	}
	return p.costs[len(p.costs)-1]
}

// RefreshCosts reads the stored hashes' costs now and makes the dummy hash
// of each (so no request pays for making one). WarmUp calls it at start; it
// runs again at most once per CostsTTL after that.
func (s *Service) RefreshCosts(ctx context.Context) error {
	seq := s.costsSeq.Add(1)
	counts, err := models.CountPasswordCosts(s.db.WithContext(ctx))
	if err != nil {
		return err
	}
	p := &costShares{read: s.now(), seq: seq}
	var total, sum int64
	for _, c := range counts {
		total += c.Count
	}
	for _, c := range counts {
		if err := s.hasher.WarmDummy(c.Cost); err != nil {
			continue // not a cost bcrypt can compare at: those hashes fail anyway
		}
		sum += c.Count
		p.costs = append(p.costs, c.Cost)
		p.upTo = append(p.upTo, float64(sum)/float64(total))
	}
	for {
		old := s.costs.Load()
		if old != nil && old.seq > seq || s.costs.CompareAndSwap(old, p) {
			return nil
		}
	}
}

// StartWarmUp prepares the dummy comparisons in the background, before the
// first login: the configured cost's dummy hash and the stored costs.
// Failures are logged; the first unknown address tries again.
func (s *Service) StartWarmUp() {
	s.background(context.Background(), func(ctx context.Context) {
		if err := s.hasher.WarmDummy(s.hasher.Cost()); err != nil {
			s.log.WarnContext(ctx, "dummy hash warm-up failed", slog.String("error", err.Error()))
		}
		if err := s.RefreshCosts(ctx); err != nil {
			s.log.WarnContext(ctx, "reading password hash costs failed", slog.String("error", err.Error()))
		}
	})
}

// loadCosts is RefreshCosts for the first unknown address when WarmUp has
// not finished (or failed): it waits, and falls back on the configured cost.
func (s *Service) loadCosts(ctx context.Context) *costShares {
	if err := s.RefreshCosts(ctx); err != nil {
		s.log.WarnContext(ctx, "reading password hash costs failed", slog.String("error", err.Error()))
		return nil
	}
	return s.costs.Load()
}

// refreshCostsLater starts one background RefreshCosts unless one is
// running.
func (s *Service) refreshCostsLater(ctx context.Context) {
	if !s.costsBusy.CompareAndSwap(false, true) {
		return
	}
	if !s.background(ctx, func(ctx context.Context) {
		defer s.costsBusy.Store(false)
		if err := s.RefreshCosts(ctx); err != nil {
			s.log.WarnContext(ctx, "reading password hash costs failed", slog.String("error", err.Error()))
		}
	}) {
		s.costsBusy.Store(false)
	}
}

// background runs fn in a goroutine that Close waits for, with ctx's values
// but not its cancellation, for at most backgroundTimeout. It runs nothing
// and returns false once the service is closed.
func (s *Service) background(ctx context.Context, fn func(ctx context.Context)) bool {
	s.bgMu.Lock()
	if s.closed {
		s.bgMu.Unlock()
		return false
	}
	s.bgWG.Add(1)
	s.bgMu.Unlock()
	go func() {
		defer s.bgWG.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), backgroundTimeout)
		defer cancel()
		fn(ctx)
	}()
	return true
}

// backgroundTimeout bounds one background task (a read of the hash costs
// and the dummy hashes it makes).
const backgroundTimeout = 30 * time.Second
