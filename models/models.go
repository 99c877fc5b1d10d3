// Package models holds the GORM models of the tables goose creates and the
// queries on them. Every function takes a *gorm.DB so a transaction can be
// passed in; ids and timestamps come from Go so both engines agree.
package models

import (
	"errors"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Named errors the services branch on.
var (
	ErrNotFound  = errors.New("record not found")
	ErrDuplicate = errors.New("duplicate key")
	// ErrForeignKey: a write referenced a row that does not exist (or no
	// longer does); the service knows which reference that was.
	ErrForeignKey = errors.New("foreign key violation")
)

// NewID returns a random UUID (v4) for a primary key.
func NewID() string { return uuid.NewString() }

// ValidID reports whether s looks like an id NewID made, so a malformed path
// parameter can be answered without a query.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// translate turns GORM's translated errors into the package's named errors.
// Both dialectors translate by the driver's error type and code (pgconn's
// SQLSTATE 23503, SQLite's SQLITE_CONSTRAINT_FOREIGNKEY), never by text.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return ErrDuplicate
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return ErrForeignKey
	}
	return err
}
