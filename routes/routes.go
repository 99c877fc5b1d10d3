// Package routes lists every route of the API and its middleware chain.
package routes

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"apisec/api"
	"apisec/app"
	"apisec/app/ratelimit"
	"apisec/handlers"
	"apisec/middleware"
	"apisec/models"
)

// New returns the API's HTTP handler over a.
func New(a *app.App) (http.Handler, error) {
	r := gin.New()
	// Only these peers' X-Forwarded-For is believed; none by default, so the
	// socket address is the client IP that rate limits key on.
	if err := r.SetTrustedProxies(a.Config.TrustedProxies); err != nil {
		return nil, err
	}
	r.RemoteIPHeaders = []string{"X-Forwarded-For"} // not X-Real-IP: the contract trusts only XFF
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false // a redirect would not be the contract's JSON
	r.RedirectFixedPath = false
	https := strings.HasPrefix(a.Config.BaseURL, "https://")
	if a.Metrics != nil {
		r.Use(middleware.Metrics(a.Metrics)) // first: its time covers the whole chain
	}
	r.Use(middleware.SecurityHeaders(https), middleware.RequestID(), middleware.Logger(a.Log), middleware.Recover(),
		middleware.CORS(a.Config.CORSAllowedOrigins), middleware.LimitBody(), middleware.NoStore())
	limits := a.Limits
	// Unknown routes are unauthenticated routes too: probing them costs budget.
	r.NoRoute(middleware.Limit(limits, ratelimit.Global), middleware.NotFound)
	r.NoMethod(middleware.Limit(limits, ratelimit.Global), middleware.MethodNotAllowed)

	health := &handlers.Health{Ready: a.Ready, JWKS: a.Tokens.JWKS(), Log: a.Log.Warn}
	auth := &handlers.Auth{Accounts: a.Accounts}
	projects := &handlers.Projects{Projects: a.Projects}
	analytics := &handlers.Analytics{Analytics: a.Analytics}
	spec, err := api.JSON()
	if err != nil {
		return nil, err
	}
	docs := &handlers.Docs{Spec: spec, Files: api.Docs}
	h := middleware.Handle

	get(r, "/healthz", h(health.Healthz))
	get(r, "/readyz", h(health.Readyz))

	// Unauthenticated routes: the global limit per client IP.
	open := r.Group("", middleware.Limit(limits, ratelimit.Global))
	get(open, "/public/status", h(health.Status))
	get(open, "/.well-known/jwks.json", health.JWKSet)
	get(open, "/openapi.json", docs.OpenAPI)
	get(open, "/docs", docs.Page)
	get(open, "/docs/:asset", docs.Asset)
	open.POST("/auth/register", h(auth.Register))
	get(open, "/auth/verify", h(auth.Verify))
	open.POST("/auth/verify/resend", h(auth.ResendVerification))
	// audit: routes whose services log security events name the request.
	audit := middleware.Audit()
	open.POST("/auth/login", audit, middleware.LoginAttempt(), middleware.Limit(limits, ratelimit.Login),
		middleware.Account(auth.LoginAccount), middleware.CountFailures(limits, ratelimit.Account, http.StatusUnauthorized), h(auth.Login))
	open.POST("/auth/refresh", audit, h(auth.Refresh))
	open.POST("/auth/logout", audit, h(auth.Logout))
	open.POST("/auth/password/forgot", h(auth.ForgotPassword))
	open.POST("/auth/password/reset", audit, h(auth.ResetPassword))

	// Signed-in routes: the per-user (or per-plan) limit after authentication;
	// failed authentication is charged to the IP's global budget.
	signed := r.Group("", middleware.RequireAuth(a.Tokens, limits, ratelimit.Global), middleware.Limit(limits, ratelimit.Authenticated))
	get(signed, "/auth/me", h(auth.Me))
	signed.POST("/auth/logout-all", audit, h(auth.LogoutAll))
	// A wrong current password is a failed check for the account and for
	// the login limit of the IP.
	signed.POST("/auth/password/change", audit, middleware.Account(auth.CallerAccount),
		middleware.CountFailures(limits, ratelimit.Login, http.StatusForbidden),
		middleware.CountFailures(limits, ratelimit.Account, http.StatusForbidden), h(auth.ChangePassword))
	get(signed, "/projects", h(projects.List))
	get(signed, "/projects/:id", h(projects.Get))
	signed.POST("/projects", middleware.RequireRole(models.RoleEditor, models.RoleAdmin), h(projects.Create))
	signed.PATCH("/projects/:id", h(projects.Update)) // per object: the owner if an editor, or any admin
	signed.DELETE("/projects/:id", middleware.RequireRole(models.RoleAdmin), h(projects.Delete))
	get(signed, "/analytics", middleware.RequireRole(models.RoleAdmin), h(analytics.Get))
	for _, route := range r.Routes() {
		a.Metrics.Route(route.Method, route.Path)
	}
	return r, nil
}

// get routes GET path and its HEAD twin (the same chain; net/http drops the
// body): load balancers and uptime checks probe with HEAD.
func get(g gin.IRoutes, path string, handlers ...gin.HandlerFunc) {
	g.GET(path, handlers...)
	g.HEAD(path, handlers...)
}
