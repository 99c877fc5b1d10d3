package tokens

import (
	"testing"

	"apisec/models"
)

func BenchmarkIssue(b *testing.B) {
	s, _ := newTestService(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Issue(Grant{Subject: testSub, Session: testSid, Role: models.RoleEditor, Plan: "free"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{{"cache=off", -1}, {"cache=on", 0}} {
		s, _ := newTestService(b, func(c *Config) { c.CacheSize = bc.size })
		tok := mustIssue(b, s, testSub, models.RoleEditor, "free")
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Verify(tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
