// Package projects is the example resource of the template: a list anyone
// signed in can read, editors create and admins delete, plus the admin's
// analytics counts.
package projects

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"apisec/app/errs"
	"apisec/models"
)

// Field limits of a project.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 2000
	// ListLimit caps GET /projects; a real app would paginate.
	ListLimit = 100
)

// Service reads and writes projects.
type Service struct {
	db  *gorm.DB
	now func() time.Time
}

// New returns a Service over db; now must return UTC.
func New(db *gorm.DB, now func() time.Time) *Service { return &Service{db: db, now: now} }

// List returns the newest projects.
func (s *Service) List(ctx context.Context) ([]models.Project, error) {
	return models.ListProjects(s.db.WithContext(ctx), ListLimit)
}

// Create validates and stores a project owned by ownerID.
func (s *Service) Create(ctx context.Context, ownerID, name, description string) (*models.Project, error) {
	name = strings.TrimSpace(name)
	if err := checkText("name", name, 1, MaxNameLen); err != nil {
		return nil, err
	}
	if err := checkText("description", description, 0, MaxDescriptionLen); err != nil {
		return nil, err
	}
	p := &models.Project{ID: models.NewID(), Name: name, Description: description, OwnerID: ownerID, CreatedAt: s.now()}
	err := models.CreateProject(s.db.WithContext(ctx), p)
	if errors.Is(err, models.ErrForeignKey) {
		// The owner is the caller: its token outlived its account.
		return nil, errs.ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Delete removes project id; a malformed or unknown id is a 404.
func (s *Service) Delete(ctx context.Context, id string) error {
	if !models.ValidID(id) {
		return errs.ErrNotFound
	}
	err := models.DeleteProject(s.db.WithContext(ctx), id)
	if errors.Is(err, models.ErrNotFound) {
		return errs.ErrNotFound
	}
	return err
}

// checkText enforces a length in characters and refuses invalid UTF-8 and
// control characters (other than newline and tab in a description).
func checkText(field, v string, min, max int) error {
	n := utf8.RuneCountInString(v)
	switch {
	case min > 0 && n == 0:
		return errs.BadRequest(field + " is required")
	case n > max:
		return errs.BadRequest(fmt.Sprintf("%s must be at most %d characters", field, max))
	case !utf8.ValidString(v):
		return errs.BadRequest(field + " must be valid UTF-8")
	}
	for _, r := range v {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return errs.BadRequest(field + " must not contain control characters")
		}
	}
	return nil
}

// Stats is what GET /analytics reports.
type Stats struct {
	UsersByRole  map[string]int64
	Users        int64
	Projects     int64
	Logins       int64
	LoginsLast24 int64
}

// Analytics counts users by role, projects and logins.
func (s *Service) Analytics(ctx context.Context) (Stats, error) {
	db := s.db.WithContext(ctx)
	st := Stats{UsersByRole: map[string]int64{models.RoleViewer: 0, models.RoleEditor: 0, models.RoleAdmin: 0}}
	roles, err := models.CountUsersByRole(db)
	if err != nil {
		return st, fmt.Errorf("count users: %w", err)
	}
	for _, r := range roles {
		st.UsersByRole[r.Role] = r.Count
		st.Users += r.Count
	}
	if st.Projects, err = models.CountProjects(db); err != nil {
		return st, fmt.Errorf("count projects: %w", err)
	}
	if st.Logins, err = models.CountLogins(db, time.Time{}); err != nil {
		return st, fmt.Errorf("count logins: %w", err)
	}
	if st.LoginsLast24, err = models.CountLogins(db, s.now().Add(-24*time.Hour)); err != nil {
		return st, fmt.Errorf("count logins: %w", err)
	}
	return st, nil
}
