package models

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Purposes of an account token.
const (
	PurposeVerifyEmail   = "verify_email"
	PurposeResetPassword = "reset_password"
)

// AccountToken is a single-use token mailed to a user; only its SHA-256 is kept.
type AccountToken struct {
	ID        string
	UserID    string
	Purpose   string
	TokenHash string
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
	// PasswordHash, on a registration's verification link, becomes the
	// account's password when the link is used; nil keeps the password.
	PasswordHash *string
}

// CreateAccountToken inserts t.
func CreateAccountToken(db *gorm.DB, t *AccountToken) error {
	if err := db.Create(t).Error; err != nil {
		return fmt.Errorf("create account token: %w", translate(err))
	}
	return nil
}

// ConsumeAccountToken marks the unused, unexpired token with this hash and
// purpose as used and returns it. The conditional UPDATE is the atomic step:
// of two concurrent uses exactly one sees a row change. ErrNotFound otherwise.
func ConsumeAccountToken(db *gorm.DB, purpose, hash string, now time.Time) (*AccountToken, error) {
	var t AccountToken
	if err := db.Where("token_hash = ? AND purpose = ?", hash, purpose).Take(&t).Error; err != nil {
		return nil, translate(err)
	}
	res := db.Model(&AccountToken{}).
		Where("id = ? AND used_at IS NULL AND expires_at > ?", t.ID, now).
		Update("used_at", now)
	if res.Error != nil {
		return nil, fmt.Errorf("consume account token: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return nil, ErrNotFound
	}
	t.UsedAt = &now
	return &t, nil
}

// OpenAccountToken returns the unused, unexpired token with this hash and
// purpose without spending it; ErrNotFound otherwise.
func OpenAccountToken(db *gorm.DB, purpose, hash string, now time.Time) (*AccountToken, error) {
	var t AccountToken
	err := db.Where("token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?", hash, purpose, now).Take(&t).Error
	if err != nil {
		return nil, translate(err)
	}
	return &t, nil
}

// InvalidateAccountTokens spends every open token of a user for a purpose, so
// an older link stops working once a newer one is mailed or one was used.
func InvalidateAccountTokens(db *gorm.DB, userID, purpose string, now time.Time) error {
	return db.Model(&AccountToken{}).
		Where("user_id = ? AND purpose = ? AND used_at IS NULL", userID, purpose).
		Update("used_at", now).Error
}
