package passwords

import (
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// benchCost is the production default (BCRYPT_COST=12): these numbers are the
// ceiling for logins per second per core.
const benchCost = 12

func newBenchHasher(b *testing.B) *Hasher {
	b.Helper()
	// Unlimited wait: the benchmark measures bcrypt, not admission.
	h, err := NewHasher(benchCost, 0, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

func BenchmarkHash(b *testing.B) {
	h := newBenchHasher(b)
	for b.Loop() {
		if _, err := h.Hash(b.Context(), "Benchmark-Passw0rd"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompare(b *testing.B) {
	h := newBenchHasher(b)
	hash, err := bcrypt.GenerateFromPassword([]byte("Benchmark-Passw0rd"), benchCost)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, err := h.Compare(b.Context(), string(hash), "Benchmark-Passw0rd"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkCompareParallel is the whole machine's login ceiling: every core
// comparing through the Hasher's admission limit at once.
func BenchmarkCompareParallel(b *testing.B) {
	h := newBenchHasher(b)
	hash, err := bcrypt.GenerateFromPassword([]byte("Benchmark-Passw0rd"), benchCost)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, err := h.Compare(ctx, string(hash), "Benchmark-Passw0rd"); !ok || err != nil {
				b.Error(ok, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "compares/s")
}
