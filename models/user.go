package models

import (
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// DefaultPlan is the plan of a new account.
const DefaultPlan = "free"

// ValidPlan reports whether p is a plan name: 1 to 64 of [a-z0-9_-]. Plans
// are names an operator types, the token carries and the rate limiter keys
// on, so the users table and PLAN_RATE_LIMITS share this one rule.
func ValidPlan(p string) bool {
	if p == "" || len(p) > 64 {
		return false
	}
	for i := range len(p) {
		if c := p[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// User is an account. PasswordHash never leaves the server: the JSON shape
// clients see is built by the handlers.
type User struct {
	ID            string
	Email         string // stored lower-case; unique on lower(email) too
	PasswordHash  string
	Role          Role
	Plan          string
	EmailVerified bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// CreateUser inserts u; ErrDuplicate when the e-mail is taken.
func CreateUser(db *gorm.DB, u *User) error {
	if err := db.Create(u).Error; err != nil {
		return fmt.Errorf("create user: %w", translate(err))
	}
	return nil
}

// UserByEmail finds a user by an already normalised (lower-case) e-mail.
// It matches on lower(email), the expression the unique index is built on,
// so the look-up is an index probe on both engines.
func UserByEmail(db *gorm.DB, email string) (*User, error) {
	var u User
	if err := db.Where("lower(email) = ?", email).Take(&u).Error; err != nil {
		return nil, translate(err)
	}
	return &u, nil
}

// LockUserByEmail is UserByEmail holding the row lock until tx ends.
func LockUserByEmail(tx *gorm.DB, email string) (*User, error) {
	return UserByEmail(tx.Clauses(clause.Locking{Strength: "UPDATE"}), email)
}

// UserByID finds a user by id.
func UserByID(db *gorm.DB, id string) (*User, error) {
	if !ValidID(id) { // no query for what cannot be an id (a NUL byte is an error on PostgreSQL)
		return nil, ErrNotFound
	}
	var u User
	if err := db.Where("id = ?", id).Take(&u).Error; err != nil {
		return nil, translate(err)
	}
	return &u, nil
}

// LockUser reads user id and holds its row lock until tx ends (FOR UPDATE on
// PostgreSQL; SQLite serializes write transactions anyway). Every change to
// a user's password, role or sessions takes it first, so a refresh or login
// and a revocation cannot interleave: under READ COMMITTED a revoking UPDATE
// would otherwise miss a successor token committed while it waited.
func LockUser(tx *gorm.DB, id string) (*User, error) {
	var u User
	if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", id).Take(&u).Error; err != nil {
		return nil, translate(err)
	}
	return &u, nil
}

// UserChanges is an update of a user: nil fields stay as they are.
type UserChanges struct {
	PasswordHash  *string
	Role          *Role
	Plan          *string
	EmailVerified *bool
	CreatedAt     *time.Time // a reclaimed registration starts its clock anew
}

// UpdateUser applies ch to user id and sets its updated_at to now;
// ErrNotFound if there is none.
func UpdateUser(db *gorm.DB, id string, now time.Time, ch UserChanges) error {
	cols := map[string]any{"updated_at": now}
	if ch.PasswordHash != nil {
		cols["password_hash"] = *ch.PasswordHash
	}
	if ch.Role != nil {
		cols["role"] = *ch.Role
	}
	if ch.Plan != nil {
		cols["plan"] = *ch.Plan
	}
	if ch.EmailVerified != nil {
		cols["email_verified"] = *ch.EmailVerified
	}
	if ch.CreatedAt != nil {
		cols["created_at"] = *ch.CreatedAt
	}
	res := db.Model(&User{}).Where("id = ?", id).Updates(cols)
	if res.Error != nil {
		return fmt.Errorf("update user: %w", translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteUser deletes user id and, by the schema's cascades, everything it
// owns: sessions, refresh and mailed tokens, projects, login events.
// ErrNotFound if there is none.
func DeleteUser(db *gorm.DB, id string) error {
	res := db.Where("id = ?", id).Delete(&User{})
	if res.Error != nil {
		return fmt.Errorf("delete user: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// RoleCount is one row of the users-by-role count.
type RoleCount struct {
	Role  Role
	Count int64
}

// CountUsersByRole counts users per role.
func CountUsersByRole(db *gorm.DB) ([]RoleCount, error) {
	var rows []RoleCount
	err := db.Model(&User{}).Select("role, count(*) AS count").Group("role").Order("role").Scan(&rows).Error
	return rows, err
}
