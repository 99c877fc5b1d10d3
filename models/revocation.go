package models

import (
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SessionRevocation marks a session ended: its access tokens stop working
// before their exp.
type SessionRevocation struct {
	SessionID string `gorm:"primaryKey"`
	RevokedAt time.Time
}

// RecordRevocations marks sessions ended at at. A session marked already
// keeps its first mark: it issued no token after it.
func RecordRevocations(db *gorm.DB, sessionIDs []string, at time.Time) error {
	if len(sessionIDs) == 0 {
		return nil
	}
	rows := make([]SessionRevocation, len(sessionIDs))
	for i, id := range sessionIDs {
		rows[i] = SessionRevocation{SessionID: id, RevokedAt: at}
	}
	err := db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "session_id"}}, DoNothing: true}).Create(&rows).Error
	if err != nil {
		return fmt.Errorf("record revocations: %w", err)
	}
	return nil
}

// RevocationsSince returns the marks made at or after since.
func RevocationsSince(db *gorm.DB, since time.Time) ([]SessionRevocation, error) {
	var rows []SessionRevocation
	if err := db.Where("revoked_at >= ?", since).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read revocations: %w", err)
	}
	return rows, nil
}
