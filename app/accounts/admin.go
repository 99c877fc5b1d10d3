package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"gorm.io/gorm"

	"apisec/app/errs"
	"apisec/app/events"
	"apisec/app/passwords"
	"apisec/models"
)

// CreateUser is the operator's `users create`: the same e-mail and password
// rules as registration, any role and plan (empty means viewer and the
// default plan), verified or not, and no e-mail sent. ErrEmailTaken for an
// address already registered.
func (s *Service) CreateUser(ctx context.Context, email, password string, role models.Role, plan string, verified bool) (*models.User, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if err := passwords.Validate(password); err != nil {
		return nil, err
	}
	if role == "" {
		role = models.RoleViewer
	}
	if plan == "" {
		plan = models.DefaultPlan
	}
	if err := checkRole(role); err != nil {
		return nil, err
	}
	if err := checkPlan(plan); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	now := s.now()
	u := &models.User{
		ID: models.NewID(), Email: email, PasswordHash: hash, Role: role, Plan: plan,
		EmailVerified: verified, CreatedAt: now, UpdatedAt: now,
	}
	switch err := models.CreateUser(s.db.WithContext(ctx), u); {
	case errors.Is(err, models.ErrDuplicate):
		return nil, errs.ErrEmailTaken
	case err != nil:
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// SetRole is the operator's `users set-role`. The new role and the end of
// the user's sessions are one transaction, so no session keeps minting
// access tokens under the old role's grant, and those already issued stop
// working.
func (s *Service) SetRole(ctx context.Context, email string, role models.Role) error {
	if err := checkRole(role); err != nil {
		return err
	}
	now := s.now()
	var ended []string
	var id string
	err := s.updateByEmail(ctx, "set role", email, func(tx *gorm.DB, u *models.User) error {
		if err := models.UpdateUser(tx, u.ID, now, models.UserChanges{Role: &role}); err != nil {
			return err
		}
		var err error
		id = u.ID
		ended, err = s.endUserSessions(tx, u.ID, now)
		return err
	})
	if err == nil {
		s.announce(ctx, ended, now)
		events.Log(ctx, s.log, events.RoleChanged, id, slog.String("role", string(role)))
	}
	return err
}

// DeleteUser is the operator's `users delete`: the account and everything
// it owns (cascading from the users row) go in one transaction that also
// marks its sessions ended, so its access tokens stop working as after a
// logout-all.
func (s *Service) DeleteUser(ctx context.Context, email string) error {
	now := s.now()
	var ended []string
	var id string
	err := s.updateByEmail(ctx, "delete user", email, func(tx *gorm.DB, u *models.User) error {
		if _, err := models.LockUser(tx, u.ID); err != nil {
			return err
		}
		var err error
		id = u.ID
		if ended, err = s.endUserSessions(tx, u.ID, now); err != nil {
			return err
		}
		return models.DeleteUser(tx, u.ID)
	})
	if err == nil {
		s.announce(ctx, ended, now)
		events.Log(ctx, s.log, events.UserDeleted, id)
	}
	return err
}

// SetPlan is the operator's `users set-plan`. Sessions go on: the next
// refresh already carries the new plan.
func (s *Service) SetPlan(ctx context.Context, email, plan string) error {
	if err := checkPlan(plan); err != nil {
		return err
	}
	return s.updateByEmail(ctx, "set plan", email, func(tx *gorm.DB, u *models.User) error {
		return models.UpdateUser(tx, u.ID, s.now(), models.UserChanges{Plan: &plan})
	})
}

// updateByEmail runs fn on the user with email in one transaction;
// ErrUserNotFound when there is none.
func (s *Service) updateByEmail(ctx context.Context, op, email string, fn func(tx *gorm.DB, u *models.User) error) error {
	email, err := normalizeEmail(email)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		u, err := models.UserByEmail(tx, email)
		if err != nil {
			return err
		}
		return fn(tx, u)
	})
	switch {
	case errors.Is(err, models.ErrNotFound):
		return ErrUserNotFound
	case err != nil:
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
