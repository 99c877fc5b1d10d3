package models

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// RefreshToken is one link of a login's rotation chain (its family); only the
// SHA-256 of the token is kept.
type RefreshToken struct {
	ID         string
	UserID     string
	FamilyID   string
	TokenHash  string
	ExpiresAt  time.Time
	ReplacedAt *time.Time // set when a refresh spent it
	RevokedAt  *time.Time // set by logout, reuse detection or a password/role change
	CreatedAt  time.Time
}

// CreateRefreshToken inserts t.
func CreateRefreshToken(db *gorm.DB, t *RefreshToken) error {
	if err := db.Create(t).Error; err != nil {
		return fmt.Errorf("create refresh token: %w", translate(err))
	}
	return nil
}

// RefreshTokenByHash finds a token by the SHA-256 of its value.
func RefreshTokenByHash(db *gorm.DB, hash string) (*RefreshToken, error) {
	var t RefreshToken
	if err := db.Where("token_hash = ?", hash).Take(&t).Error; err != nil {
		return nil, translate(err)
	}
	return &t, nil
}

// MarkRefreshTokenReplaced spends a live token. It reports false when another
// request spent or revoked it first: the conditional UPDATE is what makes
// concurrent refreshes of one token rotate exactly once.
func MarkRefreshTokenReplaced(db *gorm.DB, id string, now time.Time) (bool, error) {
	res := db.Model(&RefreshToken{}).
		Where("id = ? AND replaced_at IS NULL AND revoked_at IS NULL", id).
		Update("replaced_at", now)
	if res.Error != nil {
		return false, fmt.Errorf("spend refresh token: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// RevokeRefreshFamily revokes every token of one login.
func RevokeRefreshFamily(db *gorm.DB, familyID string, now time.Time) error {
	err := db.Model(&RefreshToken{}).
		Where("family_id = ? AND revoked_at IS NULL", familyID).
		Update("revoked_at", now).Error
	if err != nil {
		return fmt.Errorf("revoke refresh family: %w", err)
	}
	return nil
}

// RevokeUserRefreshTokens revokes every token of a user.
func RevokeUserRefreshTokens(db *gorm.DB, userID string, now time.Time) error {
	err := db.Model(&RefreshToken{}).
		Where("user_id = ? AND revoked_at IS NULL", userID).
		Update("revoked_at", now).Error
	if err != nil {
		return fmt.Errorf("revoke user refresh tokens: %w", err)
	}
	return nil
}
