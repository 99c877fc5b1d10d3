package middleware

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/cors"
)

// Header values shared by every answer (set by key, not by Header.Set, so no
// answer allocates them).
var (
	nosniff     = []string{"nosniff"}
	noReferrer  = []string{"no-referrer"}
	frameDeny   = []string{"DENY"}
	jsonOnlyCSP = []string{"default-src 'none'; frame-ancestors 'none'"}
	hsts        = []string{"max-age=31536000"}
)

// SecurityHeaders puts the browser hardening headers on every answer. It runs
// first, so errors, 404s and preflights carry them too. The CSP allows
// nothing, which is right for JSON; a handler serving HTML replaces it with
// one that allows what its page needs. HSTS is sent only when the API is
// reached over https (APP_BASE_URL), since browsers ignore it over http and
// it would pin a development host to https.
func SecurityHeaders(https bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h["X-Content-Type-Options"] = nosniff
		h["Referrer-Policy"] = noReferrer
		h["X-Frame-Options"] = frameDeny
		h["Content-Security-Policy"] = jsonOnlyCSP
		if https {
			h["Strict-Transport-Security"] = hsts
		}
		c.Next()
	}
}

// What a cross-origin front-end may send and read. The exposed headers are
// the ones a client needs to pace itself and to report a request; the
// safelisted ones (Content-Type, Cache-Control, …) are readable anyway.
var (
	corsMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodDelete}
	corsHeaders = []string{"Authorization", "Content-Type", requestIDHeader}
	corsExposed = []string{
		"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
		"RateLimit-Policy", "RateLimit", "Retry-After", requestIDHeader,
	}
	corsAllowMethods = []string{strings.Join(corsMethods, ", ")}
	corsAllowHeaders = []string{strings.Join(corsHeaders, ", ")}
)

// corsMaxAge is how long a browser may reuse a preflight answer (Chromium
// caps it at 2 h anyway); a changed CORS_ALLOWED_ORIGINS reaches browsers
// within it.
const corsMaxAge = 10 * time.Minute

// CORS lets the pages of the listed origins call the API, with
// github.com/rs/cors deciding. It must come before every limiter: a preflight
// is answered here (204) and touches neither the database nor Redis. An
// origin not listed gets no CORS header (its preflight is a bare 204, which
// the browser refuses); cookies are never allowed, since the API authenticates
// with Bearer tokens. With no origins it does nothing, so no answer carries a
// CORS header and a preflight is a 405 like any unrouted OPTIONS.
func CORS(origins []string) gin.HandlerFunc {
	if len(origins) == 0 {
		return func(*gin.Context) {}
	}
	cr := cors.New(cors.Options{
		AllowedOrigins:     origins,
		AllowedMethods:     corsMethods,
		AllowedHeaders:     corsHeaders,
		ExposedHeaders:     corsExposed,
		MaxAge:             int(corsMaxAge / time.Second),
		AllowCredentials:   false,
		OptionsPassthrough: true, // the status is written below, after allowAll
	})
	return func(c *gin.Context) {
		r := c.Request
		if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
			cr.HandlerFunc(c.Writer, r) // an actual request: Vary, and Allow-Origin/Expose-Headers when listed
			return
		}
		cr.ServeHTTP(c.Writer, r, allowAll)
		c.AbortWithStatus(http.StatusNoContent)
	}
}

// allowAll names every allowed method and header in an accepted preflight's
// answer, where rs/cors echoes only the ones asked for: a client that checks
// the answer (or asks without Access-Control-Request-Headers) sees at least
// Authorization and Content-Type.
func allowAll(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	if _, ok := h["Access-Control-Allow-Origin"]; ok {
		h["Access-Control-Allow-Methods"] = corsAllowMethods
		h["Access-Control-Allow-Headers"] = corsAllowHeaders
	}
}
