package accounts

import (
	"context"
	"time"

	"gorm.io/gorm"

	"apisec/models"
)

// Announcer tells every running instance that sessions ended, once the
// transaction that recorded their marks has committed
// (*revocation.Marks in the app).
type Announcer interface {
	Announce(ctx context.Context, sessions []string, at time.Time)
}

// endUserSessions revokes every refresh token of userID and marks ended, in
// tx, each session that may still have access tokens in use; the caller
// announces the returned ids after the commit.
func (s *Operator) endUserSessions(tx *gorm.DB, userID string, now time.Time) ([]string, error) {
	ids, err := models.LiveSessionIDs(tx, userID, now.Add(-s.accessTTL))
	if err != nil {
		return nil, err
	}
	if err := models.RevokeUserRefreshTokens(tx, userID, now); err != nil {
		return nil, err
	}
	return ids, models.RecordRevocations(tx, ids, now)
}

// endSession revokes one session's refresh tokens and marks it ended, in tx.
func endSession(tx *gorm.DB, session string, now time.Time) error {
	if err := models.RevokeRefreshFamily(tx, session, now); err != nil {
		return err
	}
	return models.RecordRevocations(tx, []string{session}, now)
}

// announce passes committed marks on to the running instances.
func (s *Operator) announce(ctx context.Context, sessions []string, at time.Time) {
	if s.revocations != nil {
		s.revocations.Announce(ctx, sessions, at)
	}
}
