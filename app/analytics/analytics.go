// Package analytics counts what GET /analytics reports to admins.
package analytics

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"apisec/models"
)

// Stats is what GET /analytics reports.
type Stats struct {
	UsersByRole  map[string]int64
	Users        int64
	Projects     int64
	Logins       int64
	LoginsLast24 int64
}

// Service reads the counts.
type Service struct {
	db  *gorm.DB
	now func() time.Time
}

// New returns a Service over db; now must return UTC.
func New(db *gorm.DB, now func() time.Time) *Service { return &Service{db: db, now: now} }

// Stats counts users by role, projects and logins.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	db := s.db.WithContext(ctx)
	st := Stats{UsersByRole: map[string]int64{}}
	for _, r := range models.Roles() { // every role, held by anyone or not
		st.UsersByRole[string(r)] = 0
	}
	roles, err := models.CountUsersByRole(db)
	if err != nil {
		return st, fmt.Errorf("count users: %w", err)
	}
	for _, r := range roles {
		st.UsersByRole[string(r.Role)] = r.Count
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
