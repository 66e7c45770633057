package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Options wires the API to its stores and to authentication.
type Options struct {
	Todos         TodoStore
	Users         UserStore
	Organizations OrganizationStore
	// Auth verifies the bearer token and stores the caller in the request
	// context (auth.Middleware). Required: without it every /v1 route
	// would fail closed anyway, with an empty caller.
	Auth echo.MiddlewareFunc
	// Ready is /readyz's check: the database answers as rowgate_app, keys
	// are loaded, the server is not shutting down.
	Ready func(context.Context) error
	// Samples feeds /metrics with what the service depends on (pool,
	// retries, keys); nil leaves them out.
	Samples func() []Sample
	Logger  *slog.Logger
	// RequestTimeout bounds each request; default 10s.
	RequestTimeout time.Duration
	// CORSOrigins lists the browser origins allowed to call the API; empty
	// sends no CORS headers, so browsers on other origins are refused.
	CORSOrigins []string
	// RateLimit limits /v1 requests per user and, before verification,
	// per client address; its zero value limits nothing (see RateLimit).
	RateLimit RateLimit
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client (for the per-address limit). Empty: the client is the
	// connection's peer and X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
}

// New returns the API's handler.
func New(o Options) *echo.Echo {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Second
	}
	m := newMetrics(o.Samples)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(o.Logger)
	e.IPExtractor = ipExtractor(o.TrustedProxies)
	limits := newRateLimits(o.RateLimit)
	m.reg.MustRegister(limits.rejected)
	e.Use(withRequestID, withAccessLog(o.Logger, m), withRecover(o.Logger))
	if len(o.CORSOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:  o.CORSOrigins,
			AllowMethods:  []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete},
			AllowHeaders:  []string{"Authorization", "Content-Type", "If-Match", "If-None-Match", headerRequestID, headerIdempotencyKey, headerConsistencyToken},
			ExposeHeaders: []string{"ETag", "Location", headerRequestID, "Retry-After", "RateLimit", "RateLimit-Policy", headerIdempotentReplayed, headerConsistencyToken},
			MaxAge:        600,
		}))
	}

	e.GET("/healthz", healthz)
	e.GET("/readyz", readyz(o.Ready))
	e.GET("/metrics", echo.WrapHandler(m.handler()))
	e.GET("/openapi.json", openAPI)

	v1 := e.Group("/v1", withTimeout(o.RequestTimeout), withBodyLimit, limits.around(o.Auth), withConsistency)
	me := meHandlers{store: o.Users}
	v1.GET("/me", me.get)
	v1.PATCH("/me", me.update)
	v1.DELETE("/me", me.delete)
	todos := todoHandlers{store: o.Todos}
	v1.GET("/todos", todos.list)
	v1.POST("/todos", todos.create)
	v1.GET("/todos/:id", todos.get)
	v1.PATCH("/todos/:id", todos.update)
	v1.DELETE("/todos/:id", todos.delete)
	orgs := organizationHandlers{store: o.Organizations}
	v1.GET("/organizations", orgs.list)
	return e
}
