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
	"time"

	"github.com/rowgate/rowgate/internal/app"
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

// serve runs the API until ctx ends (SIGTERM or SIGINT); see app.Run. It
// listens at once, even while PostgreSQL or the JWKS do not answer yet,
// and stops if the database role could bypass row level security.
// onListen, when set, receives the bound address.
func serve(ctx context.Context, cfg serveConfig, log *slog.Logger, onListen func(addr string)) error {
	a, err := app.New(ctx, cfg.app(), log)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := listen(cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	if cfg.PprofAddr != "" {
		go servePprof(ctx, cfg.PprofAddr, log)
	}
	if onListen != nil {
		onListen(ln.Addr().String())
	}
	return a.Run(ctx, ln)
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
