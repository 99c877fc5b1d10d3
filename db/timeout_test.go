package db_test

import (
	"context"
	"os"
	"testing"
	"time"

	"apisec/db"
	"apisec/db/dbtest"
)

func TestPostgresSessionsLetGoOfWhatAClientGaveUpOn(t *testing.T) {
	t.Parallel()
	if os.Getenv("TEST_DATABASE_URL") == "" {
		t.Skip("needs TEST_DATABASE_URL: server-side timeouts are PostgreSQL's")
	}
	url := dbtest.URL(t)
	show := func(url, setting string) string {
		t.Helper()
		gdb, _, err := db.Open(context.Background(), url, db.Options{MaxOpenConns: 1, QueryTimeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { sqlDB, _ := gdb.DB(); sqlDB.Close() }()
		var v string
		if err := gdb.Raw("SHOW " + setting).Scan(&v).Error; err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, s := range []string{"statement_timeout", "idle_in_transaction_session_timeout"} {
		if v := show(url, s); v != "300ms" {
			t.Errorf("%s = %s, want the query timeout", s, v)
		}
	}
	// An operator's own setting in DATABASE_URL wins.
	if v := show(url+"&statement_timeout=2000", "statement_timeout"); v != "2s" {
		t.Errorf("statement_timeout = %s with statement_timeout=2000 in the URL", v)
	}
}
