package models

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Retention names the rows of one table that are past keeping: Where, with
// the cutoff as its one argument, matches them. Each condition is served by
// an index (db/migrations 00005, 00008, 00010 and 00011).
type Retention struct {
	Table string
	Where string
	Key   string // the primary key column; "" is id
}

func (r Retention) key() string {
	if r.Key == "" {
		return "id"
	}
	return r.Key
}

// The retention rules, in the order a purge applies them. Unverified
// accounts go last: the cascade takes what they own, and counting those
// rows under their own tables first keeps each count about its own rule.
var (
	// A refresh token is refused from its expiry on; until then even a spent
	// one is kept, so that its reuse still revokes its family.
	ExpiredRefreshTokens = Retention{"refresh_tokens", "expires_at <= ?", ""}
	// A used e-mail token can never work again, nor an expired one.
	SpentAccountTokens = Retention{"account_tokens", "used_at IS NOT NULL OR expires_at <= ?", ""}
	OldLoginEvents     = Retention{"login_events", "created_at < ?", ""}
	// A session older than SESSION_MAX_AGE refreshes no more and its access
	// tokens ran out at the same instant (their exp never passes it), ended
	// or not; its refresh tokens went by their own rule, having expired too.
	EndedSessions = Retention{"sessions", "created_at < ?", ""}
	// A mark older than the longest access-token lifetime refuses no token
	// that would not be refused for its exp; app/revocation says how long.
	OldRevocations = Retention{"session_revocations", "revoked_at < ?", "session_id"}
	// NOT email_verified, not a bound value, so the partial index applies.
	StaleUnverifiedUsers = Retention{"users", "NOT email_verified AND created_at < ?", ""}
)

// ErrBusy means a purge batch gave up waiting for a row lock that live
// traffic held; the batch deleted nothing and may be tried again.
var ErrBusy = errors.New("rows are locked by other transactions")

// purgeLockTimeout bounds how long a purge batch waits for a row lock. It is
// below PostgreSQL's deadlock_timeout (1s), so in a lock cycle with a request
// (a verification that spent its token and waits for the user row the
// purge holds, while the purge's cascade waits for that token) the purge
// gives up first and the request goes through.
const purgeLockTimeout = "200ms"

// DeleteRetained deletes at most limit rows that r matches at cutoff and
// returns how many it deleted. On PostgreSQL the rows are chosen FOR UPDATE
// SKIP LOCKED: rows that another purge or a request has locked are left for
// a later batch, so concurrent purges share the work instead of queueing, and
// FOR UPDATE checks r again on a row changed meanwhile, so an account
// verified while the batch was chosen stays. SQLite serializes writers anyway.
func DeleteRetained(db *gorm.DB, r Retention, cutoff time.Time, limit int) (int64, error) {
	var n int64
	var err error
	if db.Dialector.Name() == "postgres" {
		err = db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("SET LOCAL lock_timeout = '" + purgeLockTimeout + "'").Error; err != nil {
				return err
			}
			res := tx.Exec("DELETE FROM "+r.Table+" WHERE "+r.key()+" = ANY(ARRAY(SELECT "+r.key()+" FROM "+r.Table+
				" WHERE "+r.Where+" LIMIT ? FOR UPDATE SKIP LOCKED))", cutoff, limit)
			n = res.RowsAffected
			return res.Error
		})
	} else {
		res := db.Exec("DELETE FROM "+r.Table+" WHERE "+r.key()+" IN (SELECT "+r.key()+" FROM "+r.Table+" WHERE "+r.Where+" LIMIT ?)", cutoff, limit)
		n, err = res.RowsAffected, res.Error
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
		return 0, ErrBusy
	}
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", r.Table, err)
	}
	return n, nil
}
