package accounts

import (
	"context"
	"errors"
	"strings"

	"apisec/app/tokens"
	"apisec/models"
)

// maxAccountKey bounds the account limiter's key for an address that does
// not even parse.
const maxAccountKey = 320

// AccountKey names, for the account limiter, the address a login checks a
// password for: normalised, whether or not an account has it, so throttling
// tells nothing about which addresses exist. device is the id of
// deviceToken when it is valid for that account (signed by us, unexpired,
// issued for this address and the password it still has), else "".
func (s *Service) AccountKey(ctx context.Context, email, deviceToken string) (account, device string, err error) {
	account, err = normalizeEmail(email)
	if err != nil {
		account = strings.ToLower(strings.TrimSpace(email))
		if len(account) > maxAccountKey {
			account = account[:maxAccountKey]
		}
		return account, "", nil // no account has a malformed address
	}
	if deviceToken == "" {
		return account, "", nil
	}
	d, verr := s.tokens.VerifyDevice(deviceToken)
	if verr != nil || d.Account != tokens.DeviceAccount(account) {
		return account, "", nil
	}
	u, err := models.UserByEmail(s.db.WithContext(ctx), account)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return account, "", nil
	case err != nil:
		return "", "", err
	case u.ID != d.Subject || d.Stamp != tokens.DeviceStamp(u.PasswordHash):
		return account, "", nil // voided by a password change or reset
	}
	return account, d.ID, nil
}

// AccountOf is AccountKey for a signed-in user's own password checks.
func (s *Service) AccountOf(ctx context.Context, userID string) (account, device string, err error) {
	u, err := s.User(ctx, userID)
	if err != nil {
		return "", "", err
	}
	return u.Email, "", nil
}
