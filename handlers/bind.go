// Package handlers turns HTTP requests into service calls: bind the input,
// call one service, return the answer or the error. Errors are written by
// the middleware, never here.
package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"apisec/app/errs"
	"apisec/app/resource"
	"apisec/middleware"
	"apisec/models"
)

// bindJSON decodes the body into dst. A declared non-JSON content type,
// broken JSON, an empty body or trailing data is the contract's 400 "Invalid
// JSON body"; a field of the wrong type says which field; a body over the
// limit is a 413. Unknown fields are ignored, as clients expect.
func bindJSON(c *gin.Context, dst any) error {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errs.ErrInvalidJSON
		}
	}
	dec := json.NewDecoder(c.Request.Body)
	err := dec.Decode(dst)
	if err == nil {
		// Exactly one JSON value: anything after it but white space is malformed.
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("trailing data")
		}
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case middleware.IsBodyTooLarge(err):
		return errs.ErrBodyTooLarge
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return errs.New(errs.Invalid, typeErr.Field+" must be "+jsonKind(typeErr.Type.Kind().String()))
	}
	return errs.ErrInvalidJSON
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	return "a number"
}

// user is the public shape of an account: never the hash.
type user struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	Role          string `json:"role"`
	Plan          string `json:"plan"`
	EmailVerified bool   `json:"emailVerified"`
	CreatedAt     string `json:"createdAt"` // RFC 3339, formatted here: time.Time's MarshalJSON re-validates its own output
}

func userJSON(u *models.User) user {
	return user{ID: u.ID, Email: u.Email, Role: string(u.Role), Plan: u.Plan, EmailVerified: u.EmailVerified, CreatedAt: u.CreatedAt.Format(time.RFC3339Nano)}
}

// caller returns the signed-in user's id; RequireAuth guarantees one.
func caller(c *gin.Context) (string, error) {
	who, err := callerOf(c)
	return who.ID, err
}

// callerOf returns the signed-in user as a per-object rule sees it.
func callerOf(c *gin.Context) (resource.Caller, error) {
	cl, ok := middleware.CallerFrom(c)
	if !ok {
		return resource.Caller{}, errs.ErrAuthRequired
	}
	return resource.Caller{ID: cl.Subject, Role: cl.Role}, nil
}
