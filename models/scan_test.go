package models_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"apisec/db/dbtest"
	"apisec/models"
)

// ListProjects scans its rows by hand; it must answer exactly what GORM's
// Find of the same page answers, down to each time's location and the
// JSON bytes, on every page.
func TestListProjectsAnswersWhatFindAnswers(t *testing.T) {
	t.Parallel()
	gdb, engine := dbtest.New(t)
	seedProjects(t, gdb, 7)
	var after *models.Keyset
	pages := 0
	for {
		got, err := models.ListProjects(gdb, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		var want []models.Project
		if err := gdb.Scopes(models.NewestFirst(after, 3)).Find(&want).Error; err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 {
			if len(got) != 0 {
				t.Fatalf("%s: %d projects past the end", engine, len(got))
			}
			break
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: page %d:\n got %#v\nwant %#v", engine, pages, got, want)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Fatalf("%s: page %d JSON:\n got %s\nwant %s", engine, pages, gj, wj)
		}
		k := got[len(got)-1].Key()
		after = &k
		pages++
	}
	if pages != 3 {
		t.Fatalf("%s: %d pages of 7 projects by 3, want 3", engine, pages)
	}
}
