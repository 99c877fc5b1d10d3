package accounts

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"apisec/app/errs"
	"apisec/app/events"
	"apisec/app/mail"
	"apisec/app/passwords"
	"apisec/app/tokens"
	"apisec/models"
)

// ChangePassword sets a signed-in user's password after checking the
// current one (ErrWrongPassword otherwise). The new hash, the revocation of
// every refresh token and of any open reset link are one transaction.
func (s *Service) ChangePassword(ctx context.Context, userID, current, next string) error {
	if current == "" { // a bad request, decided before any hash is computed
		return errs.New(errs.Invalid, "Current password is required")
	}
	if err := passwords.Validate(next); err != nil {
		return err
	}
	u, err := s.User(ctx, userID)
	if err != nil {
		return err
	}
	ok, err := s.hasher.Compare(ctx, u.PasswordHash, current)
	switch {
	case err != nil:
		return fmt.Errorf("change password: %w", err)
	case !ok:
		return errs.ErrWrongPassword
	}
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	switch err := s.setPassword(ctx, userID, hash, nil); {
	case errors.Is(err, models.ErrNotFound):
		return errs.ErrInvalidToken // the user was deleted while bcrypt ran
	case err != nil:
		return fmt.Errorf("change password: %w", err)
	}
	events.Log(ctx, s.log, events.PasswordChanged, userID)
	return nil
}

// ForgotPassword mails a user, verified or not, a link to reset their
// password (1 h, single use; older links stop working). Unknown addresses
// get no mail and cannot be told apart (see mailAccountToken). It returns
// the token only when one was mailed and the service exposes tokens.
func (s *Service) ForgotPassword(ctx context.Context, email string) (string, error) {
	token, err := s.mailAccountToken(ctx, email, models.PurposeResetPassword, ResetTTL,
		func(*models.User) bool { return true }, mail.ResetMessage)
	if err != nil {
		return "", fmt.Errorf("forgot password: %w", err)
	}
	return token, nil
}

// ResetPassword sets a new password with a mailed reset token and revokes
// every refresh token of the user. The password rules are checked first, so
// a rejected password leaves the token usable; a malformed, unknown, spent
// or expired token is ErrInvalidResetToken, found before any bcrypt work.
// The token is consumed atomically in the transaction that stores the hash.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) error {
	if err := passwords.Validate(newPassword); err != nil {
		return err
	}
	if !tokens.ValidOpaqueToken(token) {
		return errs.ErrInvalidResetToken
	}
	tokenHash := tokens.HashOpaqueToken(token)
	t, err := models.FindUsableAccountToken(s.db.WithContext(ctx), models.PurposeResetPassword, tokenHash, s.now())
	switch {
	case errors.Is(err, models.ErrNotFound):
		return errs.ErrInvalidResetToken
	case err != nil:
		return fmt.Errorf("reset password: %w", err)
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	err = s.setPassword(ctx, t.UserID, hash, func(tx *gorm.DB) error {
		// The token may have been spent or expired while bcrypt ran.
		now := s.now()
		if _, err := models.ConsumeAccountToken(tx, models.PurposeResetPassword, tokenHash, now); err != nil {
			return err
		}
		// The link proved the mailbox: the address is verified, and no
		// verification link may later bring back a registration's password.
		if err := models.UpdateUser(tx, t.UserID, now, models.UserChanges{EmailVerified: new(true)}); err != nil {
			return err
		}
		return models.InvalidateAccountTokens(tx, t.UserID, models.PurposeVerifyEmail, now)
	})
	switch {
	case errors.Is(err, models.ErrNotFound):
		return errs.ErrInvalidResetToken
	case err != nil:
		return fmt.Errorf("reset password: %w", err)
	}
	events.Log(ctx, s.log, events.PasswordReset, t.UserID)
	return nil
}

// setPassword stores hash as userID's password in one transaction with
// first (if any), the end of every session and the spending of every open
// reset link.
func (s *Service) setPassword(ctx context.Context, userID, hash string, first func(tx *gorm.DB) error) error {
	now := s.now()
	var ended []string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if first != nil {
			if err := first(tx); err != nil {
				return err
			}
		}
		if err := models.UpdateUser(tx, userID, now, models.UserChanges{PasswordHash: &hash}); err != nil {
			return err
		}
		var err error
		if ended, err = s.endUserSessions(tx, userID, now); err != nil {
			return err
		}
		return models.InvalidateAccountTokens(tx, userID, models.PurposeResetPassword, now)
	})
	if err == nil {
		s.announce(ctx, ended, now)
	}
	return err
}
