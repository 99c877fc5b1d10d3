package middleware

import (
	"github.com/gin-gonic/gin"
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
