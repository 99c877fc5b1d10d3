package models

import (
	"fmt"
	"strconv"

	"gorm.io/gorm"
)

// CostCount is how many stored password hashes have one bcrypt cost.
type CostCount struct {
	Cost  int
	Count int64
}

// CountPasswordCosts returns, in ascending cost, how many users' password
// hashes are of each bcrypt cost ("$2a$12$…": the two digits after the
// third "$"). It reads the whole table, so callers cache the answer.
// Hashes it cannot read are left out.
func CountPasswordCosts(db *gorm.DB) ([]CostCount, error) {
	var rows []struct {
		Cost string
		N    int64
	}
	err := db.Model(&User{}).
		Select("SUBSTR(password_hash, 5, 2) AS cost, COUNT(*) AS n").
		Group("SUBSTR(password_hash, 5, 2)").Order("cost").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("count password costs: %w", translate(err))
	}
	out := make([]CostCount, 0, len(rows))
	for _, r := range rows {
		if c, err := strconv.Atoi(r.Cost); err == nil && r.N > 0 {
			out = append(out, CostCount{Cost: c, Count: r.N})
		}
	}
	return out, nil
}
