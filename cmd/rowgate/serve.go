package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/httpapi"
	"github.com/rowgate/rowgate/internal/postgres"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg serveConfig
	fs := newFlagSet("serve", stderr)
	env := cfg.bind(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.validate(env); err != nil {
		return err
	}
	tuneGC()
	return serve(ctx, cfg, newLogger(stderr, cfg.LogFormat, cfg.LogLevel), nil)
}

// tuneGC trades memory the service has to spare for CPU it has not: unless
// GOGC or GOMEMLIMIT say otherwise, the heap may grow to five times what is
// live (GOGC=400) but no further than a 64 MiB soft limit. Live data is a
// few MiB, so collections run a quarter as often and RSS stays far under
// 100 MiB; measured in docs/benchmarks.md.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(64 << 20)
	}
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	l, _ := parseLevel(level)
	opts := &slog.HandlerOptions{Level: l}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// serve runs the API until ctx ends (SIGTERM or SIGINT). It refuses to
// start as a role that could bypass row level security. On shutdown,
// /readyz turns 503, in-flight requests finish, then the pool closes.
// onListen, when set, receives the bound address.
func serve(ctx context.Context, cfg serveConfig, log *slog.Logger, onListen func(addr string)) error {
	verifier, err := auth.NewVerifier(ctx, auth.Config{
		JWKSURL: cfg.JWKSURL, JWKSFile: cfg.JWKSFile,
		Issuer: cfg.Issuer, Audience: cfg.Audience,
		AllowAnyIssuer: cfg.AllowAnyIssuer, AllowAnyAudience: cfg.AllowAnyAudience,
		Skew: cfg.ClockSkew, MinRefreshInterval: cfg.JWKSMinRefresh, Logger: log,
	})
	if err != nil {
		return err
	}
	defer verifier.Close()
	db, err := postgres.Open(ctx, postgres.Config{
		URL: cfg.DatabaseURL, StatementTimeout: cfg.StatementTimeout, MaxConns: int32(cfg.DBMaxConns),
	})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CheckRole(ctx); err != nil {
		return err
	}
	mode, why := db.QueryExecMode()
	log.Info("database ready", slog.String("query_exec_mode", mode), slog.String("because", why))

	var stopping atomic.Bool
	handler := httpapi.New(httpapi.Options{
		Todos: db.Todos(), Users: db.Users(), Auth: auth.Middleware(verifier),
		Ready: func(ctx context.Context) error {
			if stopping.Load() {
				return errors.New("shutting down")
			}
			if err := verifier.Ready(); err != nil {
				return err
			}
			return db.Ready(ctx)
		},
		PoolStats: func() httpapi.PoolStats { return poolStats(db) },
		Logger:    log, RequestTimeout: cfg.RequestTimeout, CORSOrigins: cfg.corsOrigins(),
	})
	ln, err := listen(cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if cfg.PprofAddr != "" {
		go servePprof(ctx, cfg.PprofAddr, log)
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()))
	if onListen != nil {
		onListen(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stopping.Store(true)
	if cfg.DrainDelay > 0 {
		log.Info("shutting down: /readyz answers 503 while load balancers drain", slog.Duration("delay", cfg.DrainDelay))
		select {
		case <-time.After(cfg.DrainDelay):
		case err := <-errc:
			return err
		}
	}
	log.Info("shutting down: finishing in-flight requests", slog.Duration("timeout", cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// listen opens a TCP address, or a unix socket for an address such as
// unix:/run/rowgate.sock (for a proxy or sidecar on the same host).
func listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return net.Listen("unix", path)
	}
	return net.Listen("tcp", addr)
}

func poolStats(db *postgres.DB) httpapi.PoolStats {
	s := db.Stat()
	return httpapi.PoolStats{
		Acquired: s.AcquiredConns(), Idle: s.IdleConns(), Total: s.TotalConns(), Max: s.MaxConns(),
		AcquireCount: s.AcquireCount(), EmptyAcquireCount: s.EmptyAcquireCount(),
		CanceledAcquireCount: s.CanceledAcquireCount(), AcquireDuration: s.AcquireDuration(),
	}
}

// servePprof serves the profiler on its own listener, never on the API's.
func servePprof(ctx context.Context, addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	log.Info("pprof listening", slog.String("addr", addr))
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("pprof", slog.Any("err", err))
	}
}
