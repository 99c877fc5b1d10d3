package models

import (
	"time"

	"gorm.io/gorm"
)

// Keyset is a position in a newest-first list: the created_at and id of the
// last row a page held. Paging by position rather than OFFSET keeps every
// page one index range scan, and rows inserted meanwhile neither repeat nor
// vanish from later pages.
type Keyset struct {
	CreatedAt time.Time
	ID        string
}

// NewestFirst orders a list by created_at, then id, both descending (a total
// order: ids are unique), starts after the row at after (nil: the newest) and
// reads at most limit rows. A table listed with it wants an index on
// created_at.
func NewestFirst(after *Keyset, limit int) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB {
		if after != nil {
			// The first condition is an index range on created_at on both
			// engines; the second, a filter, breaks ties by id.
			db = db.Where("created_at <= ? AND (created_at < ? OR id < ?)", after.CreatedAt, after.CreatedAt, after.ID)
		}
		return db.Order("created_at DESC, id DESC").Limit(limit)
	}
}
