package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"apisec/app/errs"
	"apisec/app/mail"
	"apisec/app/passwords"
	"apisec/app/tokens"
	"apisec/models"
)

// Register creates an unverified viewer on the free plan and mails the link
// that verifies the address. The user and the verification token are written
// in one transaction, so a failed registration leaves nothing behind; the
// e-mail is sent afterwards, in the background, and its failure never loses
// the account (the user can ask for another link). The verification token is
// returned only when the service exposes tokens (outside production).
//
// An address whose account is not verified yet is registered again like a
// new one: the answer is the same, and the new link carries this
// registration's password, so someone who registered another person's
// address first gains nothing once its owner registers and verifies.
func (s *Service) Register(ctx context.Context, email, password string) (*models.User, string, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return nil, "", err
	}
	if err := passwords.Validate(password); err != nil {
		return nil, "", err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return nil, "", fmt.Errorf("register: %w", err)
	}
	token, tokenHash, err := tokens.NewOpaqueToken()
	if err != nil {
		return nil, "", err
	}
	var u *models.User
	// A concurrent first registration of the address may win the unique
	// index; the second attempt then finds its unverified account.
	for attempt := 0; ; attempt++ {
		now := s.now()
		err = s.tx(ctx, func(tx *gorm.DB) error {
			if u, err = claimAddress(tx, email, hash, now); err != nil {
				return err
			}
			return models.CreateAccountToken(tx, &models.AccountToken{
				ID: models.NewID(), UserID: u.ID, Purpose: models.PurposeVerifyEmail,
				TokenHash: tokenHash, ExpiresAt: now.Add(VerificationTTL), CreatedAt: now, PasswordHash: &hash,
			})
		})
		if !errors.Is(err, models.ErrDuplicate) || attempt > 0 {
			break
		}
	}
	switch {
	case errors.Is(err, errs.ErrEmailTaken), errors.Is(err, models.ErrDuplicate):
		return nil, "", errs.ErrEmailTaken
	case err != nil:
		return nil, "", fmt.Errorf("register: %w", err)
	}
	s.sendMail(ctx, models.PurposeVerifyEmail, u.ID, mail.VerificationMessage(s.baseURL, u.Email, token))
	return u, s.exposed(token), nil
}

// claimAddress returns the user a registration of email is for: a new one,
// or the unverified account already holding the address, which then looks
// new (created now, with this registration's password for resend links).
// A verified address is ErrEmailTaken.
func claimAddress(tx *gorm.DB, email, hash string, now time.Time) (*models.User, error) {
	u, err := models.LockUserByEmail(tx, email)
	switch {
	case errors.Is(err, models.ErrNotFound):
		u = &models.User{
			ID: models.NewID(), Email: email, PasswordHash: hash,
			Role: models.RoleViewer, Plan: models.DefaultPlan,
			CreatedAt: now, UpdatedAt: now,
		}
		return u, models.CreateUser(tx, u) // the unique index decides between concurrent ones
	case err != nil:
		return nil, err
	case u.EmailVerified:
		return nil, errs.ErrEmailTaken
	}
	if err := models.UpdateUser(tx, u.ID, now, models.UserChanges{PasswordHash: &hash, CreatedAt: &now}); err != nil {
		return nil, err
	}
	u.PasswordHash, u.CreatedAt, u.UpdatedAt = hash, now, now
	return u, nil
}

// Verify spends a verification token and marks its user's address verified.
// A malformed, unknown, spent or expired token is ErrInvalidVerification; of
// two concurrent uses of one token exactly one succeeds (the conditional
// UPDATE in models.ConsumeAccountToken).
func (s *Service) Verify(ctx context.Context, token string) error {
	if !tokens.ValidOpaqueToken(token) {
		return errs.ErrInvalidVerification
	}
	now := s.now()
	err := s.tx(ctx, func(tx *gorm.DB) error {
		t, err := models.ConsumeAccountToken(tx, models.PurposeVerifyEmail, tokens.HashOpaqueToken(token), now)
		if err != nil {
			return err
		}
		// A nil PasswordHash keeps the password; else it is the one of the
		// registration that sent this link.
		ch := models.UserChanges{EmailVerified: new(true), PasswordHash: t.PasswordHash}
		if err := models.UpdateUser(tx, t.UserID, now, ch); err != nil {
			return err
		}
		// Other links mailed for this address are of no further use.
		return models.InvalidateAccountTokens(tx, t.UserID, models.PurposeVerifyEmail, now)
	})
	switch {
	case errors.Is(err, models.ErrNotFound):
		return errs.ErrInvalidVerification
	case err != nil:
		return fmt.Errorf("verify email: %w", err)
	}
	return nil
}

// CheckVerification answers as Verify would, without spending the token:
// HEAD /auth/verify, which link checkers send, must not verify an account.
func (s *Service) CheckVerification(ctx context.Context, token string) error {
	if !tokens.ValidOpaqueToken(token) {
		return errs.ErrInvalidVerification
	}
	_, err := models.OpenAccountToken(s.db.WithContext(ctx), models.PurposeVerifyEmail, tokens.HashOpaqueToken(token), s.now())
	switch {
	case errors.Is(err, models.ErrNotFound):
		return errs.ErrInvalidVerification
	case err != nil:
		return fmt.Errorf("check verification: %w", err)
	}
	return nil
}

// ResendVerification mails a new verification link to an unverified user,
// spending the older links. It returns the token only when one was mailed
// and the service exposes tokens; see mailAccountToken for why unknown
// addresses cannot be told apart.
func (s *Service) ResendVerification(ctx context.Context, email string) (string, error) {
	token, err := s.mailAccountToken(ctx, email, models.PurposeVerifyEmail, VerificationTTL,
		func(u *models.User) bool { return !u.EmailVerified }, mail.VerificationMessage)
	if err != nil {
		return "", fmt.Errorf("resend verification: %w", err)
	}
	return token, nil
}

// mailAccountToken mails a new single-use token of purpose to the user with
// email when eligible says so, spending their older ones. For an unknown or
// ineligible address it sends nothing but does the same kind of work (a
// token, a look-up, a transaction with the same UPDATE) and answers no
// sooner than UniformAnswerTime, so neither the answer nor its timing tells
// whether an account exists. No bcrypt runs on either path.
func (s *Service) mailAccountToken(ctx context.Context, email, purpose string, ttl time.Duration,
	eligible func(*models.User) bool, message func(baseURL, to, token string) mail.Message) (string, error) {
	defer padTo(ctx, time.Now(), UniformAnswerTime)
	email, err := normalizeEmail(email)
	if err != nil {
		return "", err
	}
	token, tokenHash, err := tokens.NewOpaqueToken()
	if err != nil {
		return "", err
	}
	u, err := models.UserByEmail(s.db.WithContext(ctx), email)
	switch {
	case errors.Is(err, models.ErrNotFound):
		u = nil
	case err != nil:
		return "", err
	}
	send := u != nil && eligible(u) && s.cooledDown(ctx, purpose, email)
	if err := s.replaceAccountToken(ctx, u, send, purpose, tokenHash, ttl); err != nil {
		return "", err
	}
	if !send {
		return "", nil
	}
	s.sendMail(ctx, purpose, u.ID, message(s.baseURL, u.Email, token))
	return s.exposed(token), nil
}

// cooledDown reports whether an e-mail of purpose may go to email now
// (MAIL_COOLDOWN). A store outage lets it go: the global limit still bounds
// the flood, and the answer must not change.
func (s *Service) cooledDown(ctx context.Context, purpose, email string) bool {
	if s.cooldown == nil {
		return true
	}
	ok, err := s.cooldown.Admit(ctx, purpose+":"+email)
	if err != nil {
		s.log.WarnContext(ctx, "mail cooldown store failed; sending anyway", slog.String("error", err.Error()))
		return true
	}
	return ok
}

// replaceAccountToken spends u's open tokens of purpose and, when issue is
// set, stores a new one. When issue is false (no such user, or one that must
// not get a mail) it runs the same UPDATE against no user, so both paths do
// a transaction of the same shape.
func (s *Service) replaceAccountToken(ctx context.Context, u *models.User, issue bool, purpose, tokenHash string, ttl time.Duration) error {
	now := s.now()
	userID := ""
	if issue {
		userID = u.ID
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := models.InvalidateAccountTokens(tx, userID, purpose, now); err != nil {
			return fmt.Errorf("invalidate account tokens: %w", err)
		}
		if !issue {
			return nil
		}
		return models.CreateAccountToken(tx, &models.AccountToken{
			ID: models.NewID(), UserID: u.ID, Purpose: purpose,
			TokenHash: tokenHash, ExpiresAt: now.Add(ttl), CreatedAt: now,
		})
	})
}
