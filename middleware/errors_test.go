package middleware

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"apisec/app/errs"
)

func TestEveryErrorKindAnswersTheContractsStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		status int
	}{
		{errs.ErrInvalidJSON, 400},
		{errs.New(errs.Invalid, "Email is required"), 400},
		{errs.ErrInvalidToken, 401},
		{errs.ErrEmailNotVerified, 403},
		{errs.ErrNotFound, 404},
		{errs.ErrMethodNotAllowed, 405},
		{errs.ErrEmailTaken, 409},
		{errs.ErrBodyTooLarge, 413},
		{errs.TooManyLoginAttempts(3), 429},
		{fmt.Errorf("bcrypt: %w", errs.ErrUnavailable), 503},
		{errs.ErrInternal, 500},
		{errs.New(errs.Kind(255), "a kind nobody mapped"), 500},
	}
	for _, tc := range cases {
		r := gin.New()
		r.GET("/", Handle(func(*gin.Context) (int, any, error) { return 0, nil, tc.err }))
		w := serve(r, httptest.NewRequest("GET", "/", nil))
		e, _ := errs.As(tc.err)
		if w.Code != tc.status || errorOf(t, w) != e.Message {
			t.Errorf("%v: %d %s, want %d", tc.err, w.Code, w.Body, tc.status)
		}
		if got := w.Header().Get("WWW-Authenticate") != ""; got != (tc.status == 401) {
			t.Errorf("%v: WWW-Authenticate set = %v", tc.err, got)
		}
	}
}
