package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"apisec/app/errs"
	"apisec/app/events"
	"apisec/app/tokens"
	"apisec/models"
)

// Refresh spends a refresh token and answers with a new pair in the same
// family.
//
// Design. Everything happens in one transaction:
//
//  1. Find the presented token T by its hash; unknown, expired or revoked
//     is ErrInvalidRefreshToken.
//  2. Spend it with models.MarkRefreshTokenReplaced, a conditional UPDATE
//     (replaced_at IS NULL AND revoked_at IS NULL). Exactly one request
//     changes the row: on PostgreSQL a concurrent UPDATE blocks on the row
//     lock until the winner commits and then matches nothing; on SQLite
//     transactions are serialized outright (_txlock=immediate, one
//     connection). The winner inserts the successor S = Successors.Successor(T)
//     — derived, not random, and stored only as a hash — in the same family
//     with a fresh expiry.
//  3. A request that did not change the row re-reads it (on PostgreSQL it
//     now sees the winner's commit). Replaced within ReuseGrace, family not
//     revoked: a retry (two tabs, a lost response) — recompute S, confirm
//     its row is in the same family and live, and answer with it, so the
//     family never forks. Otherwise it is reuse of a spent token, a sign of
//     theft: the whole family is revoked in this same transaction, which is
//     committed, and only then is ErrInvalidRefreshToken returned.
//
// The user's row is locked first (models.LockUser), so a rotation and a
// revocation of the same user's sessions never interleave. The access token
// carries the role and plan read under that lock.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (TokenPair, error) {
	if !tokens.ValidOpaqueToken(refreshToken) {
		return TokenPair{}, errs.ErrInvalidRefreshToken
	}
	now := s.now()
	hash := tokens.HashOpaqueToken(refreshToken)
	successor := s.successors.Successor(refreshToken)
	var (
		user    *models.User
		session *models.Session
		revoked string // the family revoked for reuse, if any
	)
	err := s.tx(ctx, func(tx *gorm.DB) error {
		t, err := models.RefreshTokenByHash(tx, hash)
		if err != nil {
			return err
		}
		// Serialize with every revocation of this user's sessions, then read
		// the token again as it is after any revocation that went first.
		if user, err = models.LockUser(tx, t.UserID); err != nil {
			return err
		}
		if t, err = models.RefreshTokenByHash(tx, hash); err != nil {
			return err
		}
		if t.RevokedAt != nil || !now.Before(t.ExpiresAt) {
			return models.ErrNotFound
		}
		// However often it rotated, a session ends SESSION_MAX_AGE after its login.
		if session, err = models.SessionByID(tx, t.FamilyID); err != nil {
			return err
		}
		if s.sessionOver(session, now) {
			return models.ErrNotFound
		}
		spent, err := models.MarkRefreshTokenReplaced(tx, t.ID, now)
		if err != nil {
			return err
		}
		if spent {
			if err := models.CreateRefreshToken(tx, &models.RefreshToken{
				ID: models.NewID(), UserID: t.UserID, FamilyID: t.FamilyID,
				TokenHash: tokens.HashOpaqueToken(successor),
				ExpiresAt: s.refreshExpiry(session, now), CreatedAt: now,
			}); err != nil {
				return err
			}
		} else {
			ok, err := s.isRetry(tx, hash, successor, now)
			if err != nil {
				return err
			}
			if !ok {
				if err := endSession(tx, t.FamilyID, now); err != nil {
					return err
				}
				revoked = t.FamilyID
				return nil // commit the revocation; the error is returned below
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, models.ErrNotFound):
		return TokenPair{}, errs.ErrInvalidRefreshToken
	case err != nil:
		return TokenPair{}, fmt.Errorf("refresh: %w", err)
	case revoked != "":
		s.announce(ctx, []string{revoked}, now)
		s.metrics.RefreshReuse()
		events.Log(ctx, s.log, events.RefreshReuse, user.ID, slog.String("session_id", revoked))
		return TokenPair{}, errs.ErrInvalidRefreshToken
	}
	access, err := s.issueAccess(user, session)
	if err != nil {
		return TokenPair{}, fmt.Errorf("refresh: %w", err)
	}
	return TokenPair{AccessToken: access.Token, RefreshToken: successor, ExpiresIn: access.ExpiresIn()}, nil
}

// isRetry decides, for a token another request spent first, whether this is
// a retry of that refresh within the grace window that may be answered with
// the same successor. Only the row's state as now committed counts, so it
// is read again.
func (s *Service) isRetry(tx *gorm.DB, hash, successor string, now time.Time) (bool, error) {
	t, err := models.RefreshTokenByHash(tx, hash)
	if err != nil {
		return false, err
	}
	if t.RevokedAt != nil || t.ReplacedAt == nil || s.reuseGrace <= 0 || now.Sub(*t.ReplacedAt) > s.reuseGrace {
		return false, nil
	}
	next, err := models.RefreshTokenByHash(tx, tokens.HashOpaqueToken(successor))
	switch {
	case errors.Is(err, models.ErrNotFound):
		// Spent within the window, yet its successor is not there: it was
		// issued under another successor key (a key rotation). Not a retry.
		return false, nil
	case err != nil:
		return false, err
	}
	// A successor already spent means the chain moved on: answering with it
	// would let the holder of an old token walk the chain forward.
	return next.FamilyID == t.FamilyID && next.RevokedAt == nil && next.ReplacedAt == nil && now.Before(next.ExpiresAt), nil
}
