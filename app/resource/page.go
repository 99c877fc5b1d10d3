package resource

import (
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"

	"apisec/app/errs"
	"apisec/models"
)

// Page sizes of every list (the contract fixes them for GET /projects).
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Page is a request for one page of a newest-first list.
type Page struct {
	Limit int
	After *models.Keyset // nil: the first page
}

var (
	errLimit  = errs.New(errs.Invalid, "limit must be a whole number from 1 to "+strconv.Itoa(MaxLimit))
	errCursor = errs.New(errs.Invalid, "cursor must be a nextCursor from an earlier page")
)

// ParsePage reads ?limit=N&cursor=C. A parameter that is present must be
// valid, empty included: a client that sends limit= or cursor= has a bug to
// be told about, not a default.
func ParsePage(q url.Values) (Page, error) {
	p := Page{Limit: DefaultLimit}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > MaxLimit {
			return Page{}, errLimit
		}
		p.Limit = n
	}
	if v, ok := q["cursor"]; ok {
		k, ok := decodeCursor(v[0])
		if !ok {
			return Page{}, errCursor
		}
		p.After = &k
	}
	return p, nil
}

// Cut takes rows read with Limit+1 (one more tells whether a page follows)
// and returns the page and the cursor of its last row, or nil on the last
// page (JSON null).
func Cut[T interface{ Key() models.Keyset }](rows []T, p Page) ([]T, *string) {
	if len(rows) <= p.Limit {
		return rows, nil
	}
	rows = rows[:p.Limit]
	c := encodeCursor(rows[len(rows)-1].Key())
	return rows, &c
}

// A cursor is "<created_at in Unix nanoseconds>.<id>" in unpadded base64url:
// opaque to clients and safe in a query string. It need not be signed: it
// only says where to resume, and any position is one the caller may read.
func encodeCursor(k models.Keyset) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(k.CreatedAt.UnixNano(), 10) + "." + k.ID))
}

func decodeCursor(s string) (models.Keyset, bool) {
	if len(s) > 128 { // longer than any cursor made above
		return models.Keyset{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return models.Keyset{}, false
	}
	at, id, ok := strings.Cut(string(raw), ".")
	nanos, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || !models.ValidID(id) {
		return models.Keyset{}, false
	}
	return models.Keyset{CreatedAt: time.Unix(0, nanos).UTC(), ID: id}, true
}
