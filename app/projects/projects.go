// Package projects is the example resource of the template, the one to copy:
// a list anyone signed in pages through, a get, a create for editors, an
// update with a per-object rule (the owner if an editor, or any admin) and a
// delete for admins. The helpers any resource needs are in app/resource.
package projects

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"

	"apisec/app/errs"
	"apisec/app/resource"
	"apisec/models"
)

// Field limits of a project; the projects table checks the same.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 2000
)

// Service reads and writes projects.
type Service struct {
	db  *gorm.DB
	now func() time.Time
}

// New returns a Service over db; now must return UTC.
func New(db *gorm.DB, now func() time.Time) *Service { return &Service{db: db, now: now} }

// List returns one page of projects, newest first, and the cursor of the
// next page (nil on the last).
func (s *Service) List(ctx context.Context, page resource.Page) ([]models.Project, *string, error) {
	rows, err := models.ListProjects(s.db.WithContext(ctx), page.After, page.Limit+1)
	if err != nil {
		return nil, nil, err
	}
	list, next := resource.Cut(rows, page)
	return list, next, nil
}

// Get returns project id; a malformed or unknown id is a 404.
func (s *Service) Get(ctx context.Context, id string) (*models.Project, error) {
	if err := resource.CheckID(id); err != nil {
		return nil, err
	}
	p, err := models.ProjectByID(s.db.WithContext(ctx), id)
	return p, resource.Translate(err, nil)
}

// Create validates and stores a project owned by the caller.
func (s *Service) Create(ctx context.Context, owner resource.Caller, name, description string) (*models.Project, error) {
	ch, err := checkChanges(models.ProjectChanges{Name: &name, Description: &description})
	if err != nil {
		return nil, err
	}
	// PostgreSQL keeps microseconds: truncating here makes the 201's
	// createdAt the one every later read (and cursor) shows.
	p := &models.Project{ID: models.NewID(), Name: *ch.Name, Description: *ch.Description, OwnerID: owner.ID, CreatedAt: s.now().Truncate(time.Microsecond)}
	if err := models.CreateProject(s.db.WithContext(ctx), p); err != nil {
		return nil, resource.Translate(err, resource.ErrCallerGone) // owner_id is the caller's id
	}
	return p, nil
}

// Update applies ch to project id if the caller may edit it: a 404 if there
// is none, else a 403 for others, before the fields are looked at.
func (s *Service) Update(ctx context.Context, caller resource.Caller, id string, ch models.ProjectChanges) (*models.Project, error) {
	p, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !mayEdit(caller, p) {
		return nil, errs.ErrForbidden
	}
	if ch, err = checkChanges(ch); err != nil {
		return nil, err
	}
	p, err = models.UpdateProject(s.db.WithContext(ctx), id, ch)
	return p, resource.Translate(err, nil)
}

// mayEdit is PATCH's per-object rule: any admin, or the owner if an editor
// (a viewer who once was an editor keeps the project but cannot edit it).
func mayEdit(c resource.Caller, p *models.Project) bool {
	return c.Role == models.RoleAdmin || c.Role == models.RoleEditor && c.ID == p.OwnerID
}

// Delete removes project id; a malformed or unknown id is a 404.
func (s *Service) Delete(ctx context.Context, id string) error {
	if err := resource.CheckID(id); err != nil {
		return err
	}
	return resource.Translate(models.DeleteProject(s.db.WithContext(ctx), id), nil)
}

// checkChanges trims the name and checks the fields that are set.
func checkChanges(ch models.ProjectChanges) (models.ProjectChanges, error) {
	if ch.Name != nil {
		name := strings.TrimSpace(*ch.Name)
		if err := resource.CheckText("name", name, 1, MaxNameLen); err != nil {
			return ch, err
		}
		ch.Name = &name
	}
	if ch.Description != nil {
		if err := resource.CheckText("description", *ch.Description, 0, MaxDescriptionLen); err != nil {
			return ch, err
		}
	}
	return ch, nil
}
