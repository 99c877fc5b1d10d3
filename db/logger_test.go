package db_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"apisec/db"
	"apisec/db/dbtest"
)

// syncBuffer is a log sink the pool's goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.b.String()
	s.b.Reset()
	return out
}

func TestOnlyFailedAndSlowQueriesAreLoggedAndNeverWithTheirValues(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	gdb, engine, err := db.Open(context.Background(), dbtest.URL(t), db.Options{
		MaxOpenConns: 2, MaxIdleConns: 2, Logger: slog.New(slog.NewJSONHandler(&out, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := gdb.DB(); err == nil {
			s.Close()
		}
	})
	if err := gdb.Exec("CREATE TABLE t (id text PRIMARY KEY)").Error; err != nil {
		t.Fatal(err)
	}
	var id string
	if err := gdb.Raw("SELECT id FROM t WHERE id = ?", "a").Scan(&id).Error; err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := gdb.Table("t").Where("id = ?", "secret-value-1").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	if got := out.take(); got != "" {
		t.Fatalf("fast successful queries were logged: %s", got)
	}

	if err := gdb.Exec("INSERT INTO missing_table (id) VALUES (?)", "secret-value-2").Error; err == nil {
		t.Fatal("insert into a missing table succeeded")
	}
	got := out.take()
	if !strings.Contains(got, "SQL executed") || !strings.Contains(got, "missing_table") {
		t.Errorf("failed query not logged: %q", got)
	}
	if strings.Contains(got, "secret-value") {
		t.Errorf("failed query logged with its values: %s", got)
	}

	if engine == db.Postgres {
		if err := gdb.Exec("SELECT pg_sleep(0.25), ?::text", "secret-value-3").Error; err != nil {
			t.Fatal(err)
		}
		got := out.take()
		if !strings.Contains(got, "pg_sleep") {
			t.Errorf("slow query not logged: %q", got)
		}
		if strings.Contains(got, "secret-value") {
			t.Errorf("slow query logged with its values: %s", got)
		}
	}
}
