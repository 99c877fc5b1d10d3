package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable reports whether err means the database (or Redis) could not
// be reached or is overloaded, rather than a bug: the API answers those with
// 503 "Service unavailable" so clients retry, and never shows their text.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, context.DeadlineExceeded), errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 53: insufficient resources;
		// 57P0x: the server is shutting down or starting.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "53") || strings.HasPrefix(pgErr.Code, "57P0")
	}
	msg := err.Error()
	// database/sql and SQLite say these only in text.
	return strings.Contains(msg, "sql: database is closed") || strings.Contains(msg, "database is locked") ||
		strings.Contains(msg, "redis: client is closed") || strings.Contains(msg, "connection refused")
}
