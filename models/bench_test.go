package models_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"gorm.io/gorm"

	"apisec/db"
	"apisec/db/dbtest"
	"apisec/models"
)

// benchDB is a migrated database opened as serve opens it, with a logger
// at the level the load benchmark runs (warn).
func benchDB(b *testing.B) *gorm.DB {
	b.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	gdb, engine, err := db.Open(context.Background(), dbtest.URL(b), db.Options{MaxOpenConns: 4, MaxIdleConns: 4, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	sqlDB, _ := gdb.DB()
	b.Cleanup(func() { sqlDB.Close() })
	if err := db.MigrateUp(context.Background(), sqlDB, engine); err != nil {
		b.Fatal(err)
	}
	return gdb
}

// seedProjects stores an owner and n projects, a second apart.
func seedProjects(tb testing.TB, gdb *gorm.DB, n int) *models.User {
	tb.Helper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	u := &models.User{ID: models.NewID(), Email: models.NewID() + "@example.com", PasswordHash: "h",
		Role: models.RoleEditor, Plan: models.DefaultPlan, EmailVerified: true, CreatedAt: now, UpdatedAt: now}
	if err := models.CreateUser(gdb, u); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		p := &models.Project{ID: models.NewID(), Name: fmt.Sprintf("Project %02d", i),
			Description: fmt.Sprintf("A short description of project %02d, \"quoted\" <b>&</b> ünïcode.", i),
			OwnerID:     u.ID, CreatedAt: now.Add(time.Duration(i)*time.Second + 123456789)}
		if err := models.CreateProject(gdb, p); err != nil {
			tb.Fatal(err)
		}
	}
	return u
}

// cpuTime is the process's user and system CPU so far: on a shared machine,
// and with the database's round trip in every op, a steadier figure of this
// side's cost than the wall clock.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs op b.N times and reports its CPU time per op beside the wall
// clock's.
func loop(b *testing.B, op func() error) {
	b.ReportAllocs()
	start := cpuTime(b)
	for b.Loop() {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// S2's query: the first page of 20 projects (21 read, to know of a next page).
func BenchmarkListProjects(b *testing.B) {
	gdb := benchDB(b)
	seedProjects(b, gdb, 20)
	loop(b, func() error { _, err := models.ListProjects(gdb, nil, 21); return err })
}

// S3's query.
func BenchmarkUserByID(b *testing.B) {
	gdb := benchDB(b)
	u := seedProjects(b, gdb, 0)
	loop(b, func() error { _, err := models.UserByID(gdb, u.ID); return err })
}
