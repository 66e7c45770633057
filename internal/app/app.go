// Package app assembles rowgate from one Config: the token verifier, the
// database door, the HTTP API and the HTTP server. `rowgate serve`,
// `rowgate dev` and the tests all build the service through New, so the
// wiring exists once.
//
// Start-up never waits for a dependency: the listener opens at once,
// /healthz answers 200, and /readyz answers 503 naming what it waits for
// (the database and its safety checks, the signing keys) until both
// answer. A failed safety check (a role that could bypass row level
// security) stops the service.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/httpapi"
	"github.com/rowgate/rowgate/internal/postgres"
)

// Config is every setting of the service. cmd/rowgate fills it from the
// environment and flags; the README documents each in one table.
type Config struct {
	DatabaseURL string
	// ReplicaURLs are streaming standbys for read-only requests.
	ReplicaURLs   []string
	ReplicaMaxLag time.Duration
	ReplicaWait   time.Duration

	JWKSURL, JWKSFile                 string
	Issuer, Audience                  string
	AllowAnyIssuer, AllowAnyAudience  bool
	ClockSkew, JWKSMinRefresh         time.Duration
	JWKSFetchTimeout, JWKSRefreshWait time.Duration
	JWKSMaxRetry                      time.Duration

	RequestTimeout   time.Duration
	StatementTimeout time.Duration
	DBMaxConns       int
	DBAcquireTimeout time.Duration
	// IdempotencyKeyTTL is how long an Idempotency-Key is remembered.
	IdempotencyKeyTTL time.Duration
	ShutdownTimeout   time.Duration
	DrainDelay        time.Duration
	CORSOrigins       []string

	// RateLimit limits /v1 per user and, for requests whose token does not
	// verify, per client address; its zero value limits nothing. Known is
	// filled in by New.
	RateLimit httpapi.RateLimit
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client address; none by default.
	TrustedProxies []netip.Prefix
}

// Defaults of Config, where its zero value is not one.
const (
	DefaultRequestTimeout  = 10 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
)

func (c Config) withDefaults() Config {
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	return c
}

// App is the assembled service.
type App struct {
	cfg      Config
	log      *slog.Logger
	verifier *auth.Verifier
	db       *postgres.DB
	handler  http.Handler
	stopping atomic.Bool
}

// New builds the service without waiting for anything it depends on: the
// database is not contacted (Run opens the door once the safety checks
// pass), and a JWKS URL that does not answer is retried in the background.
// It fails only on a configuration that cannot work.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	cfg = cfg.withDefaults()
	a := &App{cfg: cfg, log: log}
	var err error
	a.verifier, err = auth.NewVerifier(ctx, auth.Config{
		JWKSURL: cfg.JWKSURL, JWKSFile: cfg.JWKSFile,
		Issuer: cfg.Issuer, Audience: cfg.Audience,
		AllowAnyIssuer: cfg.AllowAnyIssuer, AllowAnyAudience: cfg.AllowAnyAudience,
		Skew: cfg.ClockSkew, MinRefreshInterval: cfg.JWKSMinRefresh, Logger: log,
		FetchTimeout: cfg.JWKSFetchTimeout, RefreshWait: cfg.JWKSRefreshWait, MaxRetryInterval: cfg.JWKSMaxRetry,
	})
	if err != nil {
		return nil, err
	}
	a.db, err = postgres.Open(ctx, postgres.Config{
		URL: cfg.DatabaseURL, StatementTimeout: cfg.StatementTimeout,
		MaxConns: int32(cfg.DBMaxConns), AcquireTimeout: cfg.DBAcquireTimeout, Logger: log,
		IdempotencyKeyTTL: cfg.IdempotencyKeyTTL,
		ReplicaURLs:       cfg.ReplicaURLs, ReplicaMaxLag: cfg.ReplicaMaxLag, ReplicaWait: cfg.ReplicaWait,
	})
	if err != nil {
		a.verifier.Close()
		return nil, err
	}
	limits := cfg.RateLimit
	limits.Known = a.verifier.Known
	a.handler = httpapi.New(httpapi.Options{
		Todos: a.db.Todos(), Users: a.db.Users(), Organizations: a.db.Organizations(), Auth: auth.Middleware(a.verifier),
		Ready: a.ready, Samples: a.samples,
		Logger: log, RequestTimeout: cfg.RequestTimeout, CORSOrigins: cfg.CORSOrigins,
		RateLimit: limits, TrustedProxies: cfg.TrustedProxies,
	})
	return a, nil
}

// Handler is the HTTP API.
func (a *App) Handler() http.Handler { return a.handler }

// DB is the database door, for tests that look behind the API.
func (a *App) DB() *postgres.DB { return a.db }

// Close releases the database pool and stops the JWKS refresh.
func (a *App) Close() {
	a.db.Close()
	a.verifier.Close()
}

// keysReason says why no key set is loaded, from counters only: the
// verifier's own error names the JWKS address and the network cause,
// which belong in the log, not on a public endpoint.
func keysReason(st auth.KeyStats) string {
	f := st.Failures
	switch {
	case st.ConsecutiveFailures == 0:
		return "first fetch of the JWKS not finished"
	case f.Timeout > 0 && f.Timeout >= f.Network+f.Status+f.Parse:
		return fmt.Sprintf("the JWKS does not answer in time (%d failed fetches)", st.ConsecutiveFailures)
	case f.Status > 0 || f.Parse > 0:
		return fmt.Sprintf("the JWKS answers without a usable key set (%d failed fetches)", st.ConsecutiveFailures)
	}
	return fmt.Sprintf("the JWKS cannot be reached (%d failed fetches)", st.ConsecutiveFailures)
}

var errShuttingDown = &httpapi.Waiting{Component: "shutdown", Reason: "shutting down"}

// ready is /readyz: not shutting down, signing keys loaded, the database
// answering as a role that passed the safety checks. It names every
// dependency it still waits for.
func (a *App) ready(ctx context.Context) error {
	if a.stopping.Load() {
		return errShuttingDown
	}
	var waits []error
	if err := a.verifier.Ready(); err != nil {
		a.log.DebugContext(ctx, "not ready: signing keys", "err", err) // the URL and cause stay in the log
		waits = append(waits, &httpapi.Waiting{Component: "signing_keys", Reason: keysReason(a.verifier.KeyStats())})
	}
	var readsOnly *postgres.ReadsOnlyError
	switch err := a.db.Ready(ctx); {
	case errors.As(err, &readsOnly) && len(waits) == 0:
		return &httpapi.Degraded{Waiting: httpapi.Waiting{Component: "database", Reason: err.Error()}}
	case err != nil:
		waits = append(waits, &httpapi.Waiting{Component: "database", Reason: err.Error()})
	}
	return errors.Join(waits...)
}
