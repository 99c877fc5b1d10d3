package accounts

import (
	"context"
	"errors"

	"apisec/app/errs"
	"apisec/app/events"
	"apisec/app/metrics"
	"apisec/app/passwords"
	"apisec/models"
)

// loginDone counts how Login ended and logs a failed one; u is the account
// the address named, if any. Bad input and outages are no login outcome.
func (s *Service) loginDone(ctx context.Context, u *models.User, err error) {
	switch {
	case err == nil:
		s.metrics.Login(metrics.LoginSuccess)
	case errors.Is(err, errs.ErrInvalidCredentials):
		s.metrics.Login(metrics.LoginInvalidCredentials)
		var id string
		if u != nil {
			id = u.ID
		}
		events.Log(ctx, s.log, events.LoginFailed, id)
	case errors.Is(err, errs.ErrEmailNotVerified):
		s.metrics.Login(metrics.LoginUnverified)
	case errors.Is(err, passwords.ErrNoSlot):
		s.metrics.BcryptRejected()
	}
}
