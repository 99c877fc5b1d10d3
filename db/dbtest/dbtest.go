// Package dbtest gives each test its own migrated database: a fresh
// PostgreSQL database when TEST_DATABASE_URL is set (dropped after the test),
// a temporary SQLite file when it is not.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gorm.io/gorm"

	"apisec/db"
)

// URL returns a DATABASE_URL for a new, empty, isolated database that is
// removed when the test ends. Callers that want it migrated use New.
func URL(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		return "sqlite:" + filepath.Join(tb.TempDir(), "test.db")
	}
	name := "apisec_test_" + randomHex(tb, 8)
	adminDB, _, err := db.Open(context.Background(), admin, db.Options{MaxOpenConns: 1, MaxIdleConns: 1})
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	if err := adminDB.Exec("CREATE DATABASE " + name).Error; err != nil {
		tb.Fatalf("dbtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		defer closeDB(adminDB)
		// FORCE ends connections a failed test may have left open.
		if err := adminDB.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error; err != nil {
			tb.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("dbtest: TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Open returns an isolated, empty (unmigrated) database for one test, for
// tests of the migrations themselves; it is closed when the test ends.
func Open(tb testing.TB, maxConns int) (*gorm.DB, db.Engine) {
	tb.Helper()
	gdb, engine, err := db.Open(context.Background(), URL(tb), db.Options{MaxOpenConns: maxConns, MaxIdleConns: maxConns})
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	tb.Cleanup(func() { closeDB(gdb) })
	return gdb, engine
}

// New returns a migrated, isolated database for one test.
func New(tb testing.TB) (*gorm.DB, db.Engine) {
	tb.Helper()
	gdb, engine := Open(tb, 10)
	sqlDB, _ := gdb.DB()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := db.MigrateUp(ctx, sqlDB, engine); err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	return gdb, engine
}

func closeDB(gdb *gorm.DB) {
	if sqlDB, err := gdb.DB(); err == nil {
		sqlDB.Close()
	}
}

func randomHex(tb testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}
