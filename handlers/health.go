package handlers

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"apisec/app/errs"
	"apisec/middleware"
)

// Health serves liveness, readiness, the public status and the JWK Set.
type Health struct {
	Ready func(ctx context.Context) error // pings the database and Redis
	JWKS  []byte
	Log   func(msg string, args ...any)
}

// statusOK is the constant answer of the liveness and status routes,
// encoded once: /public/status is the API's hottest route.
var statusOK = middleware.RawJSON(`{"status":"ok"}`)

// Healthz answers while the process runs.
func (h *Health) Healthz(*gin.Context) (int, any, error) {
	return http.StatusOK, statusOK, nil
}

// Readyz answers 503 when the database or Redis does not answer.
func (h *Health) Readyz(c *gin.Context) (int, any, error) {
	if err := h.Ready(c.Request.Context()); err != nil {
		h.Log("not ready", "err", err)
		return 0, nil, errs.ErrUnavailable
	}
	return http.StatusOK, gin.H{"status": "ready"}, nil
}

// Status handles GET /public/status.
func (h *Health) Status(*gin.Context) (int, any, error) {
	return http.StatusOK, statusOK, nil
}

// JWKSet serves the public keys, pre-rendered; caches may keep them briefly.
func (h *Health) JWKSet(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/json", h.JWKS)
}
