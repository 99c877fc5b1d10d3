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
	"apisec/app/passwords"
	"apisec/app/tokens"
	"apisec/models"
)

// Login checks an e-mail and password and starts a session: a new refresh
// family and an access token carrying the user's role and plan.
//
// An unknown or malformed address costs a dummy bcrypt comparison, so it
// takes as long as a wrong password and gets the same ErrInvalidCredentials.
// "Email not verified" is only said once the password matched. The hasher's
// ErrUnavailable (too many bcrypt calls waiting) is passed on, wrapped.
func (s *Service) Login(ctx context.Context, email, password string) (_ TokenPair, err error) {
	email, err = normalizeEmail(email)
	switch {
	case errors.Is(err, ErrEmailRequired):
		return TokenPair{}, ErrEmailRequired
	case password == "":
		return TokenPair{}, passwords.ErrRequired
	}
	var u *models.User
	defer func() { s.loginDone(ctx, u, err) }()
	if err == nil {
		u, err = models.UserByEmail(s.db.WithContext(ctx), email)
	} else {
		// No account has a malformed address, and some (a NUL byte) would
		// make PostgreSQL refuse the query: answer as for an unknown one.
		err = models.ErrNotFound
	}
	if errors.Is(err, models.ErrNotFound) {
		if _, err := s.hasher.CompareDummy(ctx, s.dummyCost(ctx, email), password); err != nil {
			return TokenPair{}, fmt.Errorf("login: %w", err)
		}
		return TokenPair{}, errs.ErrInvalidCredentials
	}
	if err != nil {
		return TokenPair{}, fmt.Errorf("login: %w", err)
	}
	ok, stale, err := s.hasher.Verify(ctx, u.PasswordHash, password)
	switch {
	case err != nil:
		return TokenPair{}, fmt.Errorf("login: %w", err)
	case !ok:
		return TokenPair{}, errs.ErrInvalidCredentials
	case !u.EmailVerified:
		return TokenPair{}, errs.ErrEmailNotVerified
	}
	rehash := ""
	if stale {
		rehash = s.rehash(ctx, u, password)
	}

	refresh, refreshHash, err := tokens.NewOpaqueToken()
	if err != nil {
		return TokenPair{}, fmt.Errorf("login: %w", err)
	}
	now := s.now()
	checked := u.PasswordHash
	session := &models.Session{ID: models.NewID(), CreatedAt: now}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		// bcrypt took a while: a password change, reset or role change may
		// have committed since. Lock the row and go on only with the hash
		// that was checked, and issue the token from what is stored now.
		if u, err = models.LockUser(tx, u.ID); err != nil {
			return err
		}
		if u.PasswordHash != checked {
			return errs.ErrInvalidCredentials
		}
		session.UserID = u.ID
		if err := models.CreateSession(tx, session); err != nil {
			return err
		}
		if err := models.CreateRefreshToken(tx, &models.RefreshToken{
			ID: models.NewID(), UserID: u.ID, FamilyID: session.ID, TokenHash: refreshHash,
			ExpiresAt: s.refreshExpiry(session, now), CreatedAt: now,
		}); err != nil {
			return err
		}
		if rehash != "" {
			if err := models.UpdateUser(tx, u.ID, now, models.UserChanges{PasswordHash: &rehash}); err != nil {
				return err
			}
		}
		return models.RecordLogin(tx, u.ID, now)
	})
	if errors.Is(err, errs.ErrInvalidCredentials) || errors.Is(err, models.ErrNotFound) { // not found: deleted meanwhile
		return TokenPair{}, errs.ErrInvalidCredentials
	}
	if err != nil {
		return TokenPair{}, fmt.Errorf("login: %w", err)
	}
	access, err := s.issueAccess(u, session)
	if err != nil {
		return TokenPair{}, fmt.Errorf("login: %w", err)
	}
	pair := TokenPair{AccessToken: access.Token, RefreshToken: refresh, ExpiresIn: access.ExpiresIn()}
	if s.deviceTTL > 0 {
		hash := u.PasswordHash
		if rehash != "" {
			hash = rehash
		}
		if pair.DeviceToken, err = s.tokens.IssueDevice(u.ID, u.Email, hash, s.deviceTTL); err != nil {
			return TokenPair{}, fmt.Errorf("login: %w", err)
		}
	}
	return pair, nil
}

// rehash returns a new hash of password, for a hash that Verify found
// stale: made at another bcrypt cost than the configured one (raising
// BCRYPT_COST upgrades accounts as their owners log in), or of a password
// as typed, from before passwords were normalised to NFC. A failure only
// postpones the upgrade.
func (s *Service) rehash(ctx context.Context, u *models.User, password string) string {
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		s.log.WarnContext(ctx, "password rehash skipped", slog.String("user_id", u.ID), slog.String("error", err.Error()))
		return ""
	}
	return hash
}

// issueAccess signs an access token for session with u's role and plan as
// read; it expires with the session at the latest.
func (s *Service) issueAccess(u *models.User, session *models.Session) (tokens.Issued, error) {
	return s.tokens.Issue(tokens.Grant{Subject: u.ID, Session: session.ID, Role: u.Role, Plan: u.Plan, NotAfter: s.sessionEnd(session)})
}

// sessionEnd is when session ends whatever its rotations: SESSION_MAX_AGE
// after the login. It is computed, not stored, so a lower SESSION_MAX_AGE
// also shortens the sessions already open.
func (s *Service) sessionEnd(session *models.Session) time.Time {
	return session.CreatedAt.Add(s.maxAge)
}

// refreshExpiry is the expiry of a refresh token issued at now in session:
// REFRESH_TOKEN_TTL, but never past the session's end.
func (s *Service) refreshExpiry(session *models.Session, now time.Time) time.Time {
	if end, exp := s.sessionEnd(session), now.Add(s.refreshTTL); end.Before(exp) {
		return end
	}
	return now.Add(s.refreshTTL)
}

// sessionOver reports whether session has ended at now, or ends within the
// second: an access token, whose times are whole seconds, would have no
// time left to live.
func (s *Service) sessionOver(session *models.Session, now time.Time) bool {
	return !s.sessionEnd(session).Truncate(time.Second).After(now.Truncate(time.Second))
}

// Logout ends the session (refresh family) of the presented token, its
// access tokens included. A
// malformed or unknown token is ErrInvalidRefreshToken, so a client learns
// that it sent the wrong thing; a token of an already ended session (spent,
// revoked or expired) still names its family and ends it again, quietly:
// logging out twice is not an error.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	if !tokens.ValidOpaqueToken(refreshToken) {
		return errs.ErrInvalidRefreshToken
	}
	now := s.now()
	var session, userID string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		t, err := models.RefreshTokenByHash(tx, tokens.HashOpaqueToken(refreshToken))
		if err != nil {
			return err
		}
		if _, err := models.LockUser(tx, t.UserID); err != nil {
			return err
		}
		session, userID = t.FamilyID, t.UserID
		return endSession(tx, session, now)
	})
	switch {
	case errors.Is(err, models.ErrNotFound):
		return errs.ErrInvalidRefreshToken
	case err != nil:
		return fmt.Errorf("logout: %w", err)
	}
	s.announce(ctx, []string{session}, now)
	events.Log(ctx, s.log, events.SessionRevoked, userID, slog.String("session_id", session))
	return nil
}

// LogoutAll ends every session of the user, access tokens included.
func (s *Service) LogoutAll(ctx context.Context, userID string) error {
	now := s.now()
	var ended []string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if _, err := models.LockUser(tx, userID); err != nil {
			return err
		}
		var err error
		ended, err = s.endUserSessions(tx, userID, now)
		return err
	})
	switch {
	case errors.Is(err, models.ErrNotFound):
		return errs.ErrInvalidToken // the token names a user who is gone
	case err != nil:
		return fmt.Errorf("logout all: %w", err)
	}
	s.announce(ctx, ended, now)
	events.Log(ctx, s.log, events.SessionRevoked, userID, slog.Int("sessions", len(ended)))
	return nil
}

// User returns the user with id. A user who no longer exists while their
// access token is still valid gets errs.ErrInvalidToken: the token names
// nobody.
func (s *Service) User(ctx context.Context, userID string) (*models.User, error) {
	u, err := models.UserByID(s.db.WithContext(ctx), userID)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return nil, errs.ErrInvalidToken
	case err != nil:
		return nil, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}
