package resource

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"apisec/app/errs"
	"apisec/models"
)

func TestParsePageDefaultsAndBounds(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]int{"": DefaultLimit, "limit=1": 1, "limit=200": 200, "limit=007": 7} {
		v, _ := url.ParseQuery(q)
		p, err := ParsePage(v)
		if err != nil || p.Limit != want || p.After != nil {
			t.Errorf("%q: %+v, %v; want limit %d from the top", q, p, err, want)
		}
	}
}

func TestParsePageRefusesBadLimitsAndCursorsWithTheirName(t *testing.T) {
	t.Parallel()
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	id := models.NewID()
	cases := map[string][]string{
		"limit":  {"", "0", "201", "-1", "abc", "1.5", " 1", "99999999999999999999"},
		"cursor": {"", "%%", "abc", b64("12.not-an-id"), b64("x." + id), b64("12" + id), b64("12." + id + "="), strings.Repeat("A", 129)},
	}
	for param, values := range cases {
		for _, v := range values {
			_, err := ParsePage(url.Values{param: {v}})
			if e, ok := errs.As(err); !ok || e.Kind != errs.Invalid || !strings.HasPrefix(e.Message, param+" ") {
				t.Errorf("%s=%q: %v, want a 400 naming %s", param, v, err, param)
			}
		}
	}
}

// What Cut hands out, ParsePage reads back as the same position, to the
// nanosecond (SQLite keeps nanoseconds).
func TestACursorResumesAfterTheLastRowOfItsPage(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	rows := []models.Project{{ID: models.NewID(), CreatedAt: at.Add(time.Second)}, {ID: models.NewID(), CreatedAt: at}, {ID: models.NewID(), CreatedAt: at}}
	page, next := Cut(rows, Page{Limit: 2})
	if len(page) != 2 || next == nil {
		t.Fatalf("Cut of 3 rows at limit 2: %d rows, cursor %v", len(page), next)
	}
	p, err := ParsePage(url.Values{"cursor": {*next}})
	if err != nil || p.After == nil || *p.After != rows[1].Key() {
		t.Fatalf("cursor %s reads back as %+v, %v; want %+v", *next, p.After, err, rows[1].Key())
	}
	if page, next := Cut(rows[:2], Page{Limit: 2}); len(page) != 2 || next != nil {
		t.Fatalf("a full last page: %d rows, cursor %v", len(page), next)
	}
}
