package models

import (
	"time"

	"gorm.io/gorm"
)

// FindUsableAccountToken returns the unused, unexpired token with this hash
// and purpose without spending it, so a caller can refuse a bad token before
// expensive work; ConsumeAccountToken remains the atomic step. ErrNotFound
// otherwise.
func FindUsableAccountToken(db *gorm.DB, purpose, hash string, now time.Time) (*AccountToken, error) {
	var t AccountToken
	err := db.Where("token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?", hash, purpose, now).
		Take(&t).Error
	if err != nil {
		return nil, translate(err)
	}
	return &t, nil
}
