package models

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Project is the example resource behind the role checks.
type Project struct {
	ID          string
	Name        string
	Description string
	OwnerID     string
	CreatedAt   time.Time
}

// CreateProject inserts p.
func CreateProject(db *gorm.DB, p *Project) error {
	if err := db.Create(p).Error; err != nil {
		return fmt.Errorf("create project: %w", translate(err))
	}
	return nil
}

// ListProjects returns up to limit projects, newest first.
func ListProjects(db *gorm.DB, limit int) ([]Project, error) {
	projects := make([]Project, 0, 16)
	err := db.Order("created_at DESC, id").Limit(limit).Find(&projects).Error
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return projects, nil
}

// DeleteProject deletes project id; ErrNotFound if there is none.
func DeleteProject(db *gorm.DB, id string) error {
	res := db.Where("id = ?", id).Delete(&Project{})
	if res.Error != nil {
		return fmt.Errorf("delete project: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// CountProjects counts all projects.
func CountProjects(db *gorm.DB) (int64, error) {
	var n int64
	err := db.Model(&Project{}).Count(&n).Error
	return n, err
}
