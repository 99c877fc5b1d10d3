package models_test

import (
	"errors"
	"testing"
	"time"

	"apisec/db/dbtest"
	"apisec/models"
)

// Services branch on the named errors, so each engine's constraint
// failures must arrive as them, not as driver errors (which answer 500).
func TestConstraintFailuresAreNamedErrorsOnEveryEngine(t *testing.T) {
	t.Parallel()
	gdb, engine := dbtest.New(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	orphan := &models.Project{ID: models.NewID(), Name: "Orphan", OwnerID: models.NewID(), CreatedAt: now}
	if err := models.CreateProject(gdb, orphan); !errors.Is(err, models.ErrForeignKey) {
		t.Fatalf("%s: project of an unknown owner: %v, want ErrForeignKey", engine, err)
	}
	u := &models.User{ID: models.NewID(), Email: "a@example.com", PasswordHash: "h", Role: models.RoleViewer, Plan: models.DefaultPlan, CreatedAt: now, UpdatedAt: now}
	if err := models.CreateUser(gdb, u); err != nil {
		t.Fatal(err)
	}
	twin := *u
	twin.ID = models.NewID()
	if err := models.CreateUser(gdb, &twin); !errors.Is(err, models.ErrDuplicate) {
		t.Fatalf("%s: a second user with the same e-mail: %v, want ErrDuplicate", engine, err)
	}
}
