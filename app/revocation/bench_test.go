package revocation

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"apisec/app/tokens"
	"apisec/db/dbtest"
	"apisec/models"
)

// newBenchMarks returns a set holding n marks, none of which is probed.
func newBenchMarks(b *testing.B, n int) *Marks {
	b.Helper()
	gdb, _ := dbtest.New(b)
	m := New(Config{DB: gdb, Now: time.Now, Keep: 16 * time.Minute})
	ids := make([]string, n)
	for i := range ids {
		ids[i] = models.NewID()
	}
	m.add(ids, time.Now())
	return m
}

// The per-request check alone: one look-up among 100,000 marks (about a
// quarter hour of revocations at 100 a second).
func BenchmarkRevoked(b *testing.B) {
	m := newBenchMarks(b, 100_000)
	live := models.NewID()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if m.Revoked(live) {
				b.Error("a live session is revoked")
				return
			}
		}
	})
}

// What a signed-in request pays for its token, cached, with and without
// the revocation check.
func BenchmarkVerifyCached(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	marks := newBenchMarks(b, 100_000)
	for _, bc := range []struct {
		name  string
		marks tokens.Revocations
	}{{"revocations=off", nil}, {"revocations=on", marks}} {
		ts, err := tokens.New(tokens.Config{
			PrivateKey: key, Issuer: "apisec", Audience: "apisec-api", TTL: 15 * time.Minute, Revocations: bc.marks,
		})
		if err != nil {
			b.Fatal(err)
		}
		is, err := ts.Issue(tokens.Grant{Subject: models.NewID(), Session: models.NewID(), Role: models.RoleViewer, Plan: "free"})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := ts.Verify(is.Token); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
