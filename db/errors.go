package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	sqlitedriver "github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
	sqlite3 "modernc.org/sqlite/lib"
)

// IsUnavailable reports whether err means the database (or Redis) could not
// be reached, stopped answering in time, dropped the connection or is
// overloaded, rather than a bug: the API answers those with 503 "Service
// unavailable" so clients retry, and never shows their text.
//
// It decides by the errors' types, so a reworded driver message cannot turn
// an outage into a 500.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var (
		netErr     net.Error
		connectErr *pgconn.ConnectError
		pgErr      *pgconn.PgError
		sqliteErr  *sqlitedriver.Error
	)
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, context.DeadlineExceeded), // DB_QUERY_TIMEOUT, a pool wait, a dial
		errors.Is(err, io.ErrUnexpectedEOF),      // the server closed the connection mid-answer
		errors.Is(err, pgconn.ErrConnClosed),     // pgx found its connection already closed
		errors.Is(err, redis.ErrClosed),
		errors.As(err, &connectErr), errors.As(err, &netErr): // refused, reset, timed out
		return true
	case errors.As(err, &pgErr):
		return unavailableSQLState(pgErr.Code)
	case errors.As(err, &sqliteErr):
		// Another process holds the write lock past the busy timeout.
		code := sqliteErr.Code() & 0xff // extended codes keep the primary one in the low byte
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	}
	// database/sql has no exported value for this one (its errDBClosed): a
	// request still running while the app shuts down.
	return strings.Contains(err.Error(), "sql: database is closed")
}

// unavailableSQLState reports the PostgreSQL error codes that mean the server
// cannot serve now rather than that the query is wrong.
func unavailableSQLState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), // connection exception
		strings.HasPrefix(code, "53"),   // insufficient resources (too many connections, out of memory)
		strings.HasPrefix(code, "57P0"), // admin shutdown, crash shutdown, cannot connect now
		code == "57014",                 // query_canceled: statement_timeout
		code == "25P03":                 // idle_in_transaction_session_timeout ended the session
		return true
	}
	return false
}
