package models

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Session is one login: the refresh-token family (its ID is every token's
// FamilyID) and the sid claim of the access tokens issued for it.
type Session struct {
	ID        string
	UserID    string
	CreatedAt time.Time // the login; SESSION_MAX_AGE counts from here
}

// CreateSession inserts s.
func CreateSession(db *gorm.DB, s *Session) error {
	if err := db.Create(s).Error; err != nil {
		return fmt.Errorf("create session: %w", translate(err))
	}
	return nil
}

// SessionByID finds a session; ErrNotFound if there is none.
func SessionByID(db *gorm.DB, id string) (*Session, error) {
	var s Session
	if err := db.Where("id = ?", id).Take(&s).Error; err != nil {
		return nil, translate(err)
	}
	return &s, nil
}

// LiveSessionIDs returns the sessions of a user that may still have access
// tokens in use: those with a refresh token not revoked and not expired
// before since. The caller passes now minus the access-token lifetime: an
// access token is issued with a refresh token and lives no longer than that.
func LiveSessionIDs(db *gorm.DB, userID string, since time.Time) ([]string, error) {
	var ids []string
	err := db.Model(&RefreshToken{}).Distinct("family_id").
		Where("user_id = ? AND revoked_at IS NULL AND expires_at > ?", userID, since).
		Pluck("family_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("live sessions: %w", err)
	}
	return ids, nil
}
