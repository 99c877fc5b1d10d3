package db_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"apisec/db"
	"apisec/db/dbtest"
)

func TestErrorsAreClassifiedByTypeNotByText(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error {
		return fmt.Errorf("refresh: %w", fmt.Errorf("failed to receive message: %w", err))
	}
	unavailable := []error{
		io.ErrUnexpectedEOF,
		pgconn.ErrConnClosed,
		driver.ErrBadConn,
		context.DeadlineExceeded,
		&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET},
		&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
		&pgconn.PgError{Code: "57P01"}, // admin_shutdown
		&pgconn.PgError{Code: "53300"}, // too_many_connections
		&pgconn.PgError{Code: "08006"}, // connection_failure
		&pgconn.PgError{Code: "57014"}, // statement_timeout
		&pgconn.PgError{Code: "25P03"}, // idle_in_transaction_session_timeout
	}
	for _, err := range unavailable {
		if !db.IsUnavailable(wrap(err)) {
			t.Errorf("%T %v: not unavailable", err, err)
		}
	}
	bugs := []error{
		// Words of an outage in an error that is none.
		errors.New("unexpected EOF"), errors.New("conn closed"), errors.New("connection refused"),
		errors.New("database is locked"),
		&pgconn.PgError{Code: "23505"}, // unique_violation
		&pgconn.PgError{Code: "42P01"}, // undefined_table
		gorm.ErrRecordNotFound,
		context.Canceled, // the client went away; nobody waits for a 503
	}
	for _, err := range bugs {
		if db.IsUnavailable(wrap(err)) {
			t.Errorf("%T %v: taken for an outage", err, err)
		}
	}
}

// pgBehindProxy opens a fresh PostgreSQL database through a proxy, or skips.
func pgBehindProxy(t *testing.T, opt db.Options) (*gorm.DB, *dbtest.Proxy) {
	t.Helper()
	if os.Getenv("TEST_DATABASE_URL") == "" {
		t.Skip("needs TEST_DATABASE_URL: only PostgreSQL is reached over TCP")
	}
	proxy, url := dbtest.ProxyURL(t, dbtest.URL(t))
	gdb, _, err := db.Open(context.Background(), url, opt)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := gdb.DB()
	t.Cleanup(func() { sqlDB.Close() })
	return gdb, proxy
}

func TestPostgresConnectionsLostMidQueryAreUnavailableAndThePoolRecovers(t *testing.T) {
	t.Parallel()
	gdb, proxy := pgBehindProxy(t, db.Options{MaxOpenConns: 2, MaxIdleConns: 2})
	sleep := func(ctx context.Context) error { return gdb.WithContext(ctx).Exec("SELECT pg_sleep(2)").Error }
	cases := []struct {
		name string
		cut  func()
	}{
		// The server's FIN mid-answer: pgx says "unexpected EOF".
		{"closed", func() { proxy.After([]byte("pg_sleep"), dbtest.Close) }},
		{"reset", func() { time.AfterFunc(100*time.Millisecond, func() { proxy.SetMode(dbtest.Reset) }) }},
		// Nothing answers: the caller's deadline ends the wait.
		{"black hole", func() { proxy.SetMode(dbtest.BlackHole) }},
	}
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		c.cut()
		start := time.Now()
		err := sleep(ctx)
		cancel()
		if err == nil || !db.IsUnavailable(err) {
			t.Fatalf("%s: %v (%T) is not unavailable", c.name, err, errors.Unwrap(err))
		}
		if took := time.Since(start); took > time.Second {
			t.Fatalf("%s: the query took %v", c.name, took)
		}
		proxy.SetMode(dbtest.Forward)
		if err := gdb.Exec("SELECT 1").Error; err != nil {
			t.Fatalf("after %s: the pool did not recover: %v", c.name, err)
		}
	}
}
