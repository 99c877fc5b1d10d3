// Package routes lists every route of the API and its middleware chain.
package routes

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"apisec/api"
	"apisec/app"
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
	r.Use(middleware.RequestID(), middleware.Logger(a.Log), middleware.Recover(), middleware.LimitBody(), middleware.NoStore())
	limits := a.Limits
	// Unknown routes are unauthenticated routes too: probing them costs budget.
	r.NoRoute(middleware.LimitGlobal(limits), middleware.NotFound)
	r.NoMethod(middleware.LimitGlobal(limits), middleware.MethodNotAllowed)

	health := &handlers.Health{Ready: a.Ready, JWKS: a.Tokens.JWKS(), Log: a.Log.Warn}
	auth := &handlers.Auth{Accounts: a.Accounts, ExposeTokens: !a.Config.Production()}
	projects := &handlers.Projects{Projects: a.Projects}
	spec, err := api.JSON()
	if err != nil {
		return nil, err
	}
	docs := &handlers.Docs{Spec: spec, Files: api.Docs}
	h := middleware.Handle

	get(r, "/healthz", h(health.Healthz))
	get(r, "/readyz", h(health.Readyz))

	// Unauthenticated routes: the global limit per client IP.
	open := r.Group("", middleware.LimitGlobal(limits))
	get(open, "/public/status", h(health.Status))
	get(open, "/.well-known/jwks.json", health.JWKSet)
	get(open, "/openapi.json", docs.OpenAPI)
	get(open, "/docs", docs.Page)
	get(open, "/docs/:asset", docs.Asset)
	open.POST("/auth/register", h(auth.Register))
	get(open, "/auth/verify", h(auth.Verify))
	open.POST("/auth/verify/resend", h(auth.ResendVerification))
	open.POST("/auth/login", middleware.LimitLogin(limits), h(auth.Login))
	open.POST("/auth/refresh", h(auth.Refresh))
	open.POST("/auth/logout", h(auth.Logout))
	open.POST("/auth/password/forgot", h(auth.ForgotPassword))
	open.POST("/auth/password/reset", h(auth.ResetPassword))

	// Signed-in routes: the per-user (or per-plan) limit after authentication.
	signed := r.Group("", middleware.RequireAuth(a.Tokens), middleware.LimitUser(limits))
	get(signed, "/auth/me", h(auth.Me))
	signed.POST("/auth/logout-all", h(auth.LogoutAll))
	signed.POST("/auth/password/change", h(auth.ChangePassword))
	get(signed, "/projects", h(projects.List))
	signed.POST("/projects", middleware.RequireRole(models.RoleEditor, models.RoleAdmin), h(projects.Create))
	signed.DELETE("/projects/:id", middleware.RequireRole(models.RoleAdmin), h(projects.Delete))
	get(signed, "/analytics", middleware.RequireRole(models.RoleAdmin), h(projects.Analytics))
	return r, nil
}

// get routes GET path and its HEAD twin (the same chain; net/http drops the
// body): load balancers and uptime checks probe with HEAD.
func get(g gin.IRoutes, path string, handlers ...gin.HandlerFunc) {
	g.GET(path, handlers...)
	g.HEAD(path, handlers...)
}
