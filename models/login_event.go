package models

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// LoginEvent records one successful login.
type LoginEvent struct {
	ID        string
	UserID    string
	CreatedAt time.Time
}

// RecordLogin inserts a login event for user id at now.
func RecordLogin(db *gorm.DB, userID string, now time.Time) error {
	if err := db.Create(&LoginEvent{ID: NewID(), UserID: userID, CreatedAt: now}).Error; err != nil {
		return fmt.Errorf("record login: %w", err)
	}
	return nil
}

// CountLogins counts logins at or after since (all logins for the zero time).
func CountLogins(db *gorm.DB, since time.Time) (int64, error) {
	var n int64
	q := db.Model(&LoginEvent{})
	if !since.IsZero() {
		q = q.Where("created_at >= ?", since)
	}
	err := q.Count(&n).Error
	return n, err
}
