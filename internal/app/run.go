package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/rowgate/rowgate/internal/httpapi"
)

// Run serves the API on ln until ctx ends (SIGTERM or SIGINT), while the
// database door opens in the background once the safety checks pass. A
// failed safety check stops the service with its error. On shutdown,
// /readyz turns 503, in-flight requests finish (within ShutdownTimeout),
// then Run returns; the caller closes the App.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	srv := a.httpServer()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	checks, stopChecks := context.WithCancel(ctx)
	defer stopChecks()
	go func() {
		if err := a.openDoor(checks); err != nil {
			errc <- err
		}
	}()
	go func() {
		select {
		case err := <-a.db.Fatal(): // a replica's role could bypass RLS
			a.log.Error("refusing to serve", slog.Any("err", err))
			errc <- err
		case <-checks.Done():
		}
	}()
	a.log.Info("listening", slog.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		srv.Close()
		return err
	case <-ctx.Done():
	}
	return a.shutdown(srv, errc)
}

// openDoor waits for the database and its safety checks, logging changes
// of state; it returns only the refusal of a safety check (or nil).
func (a *App) openDoor(ctx context.Context) error {
	err := a.db.WaitReady(ctx)
	switch {
	case err == nil:
		mode, why := a.db.QueryExecMode()
		a.log.Info("database ready: safety checks passed", slog.String("query_exec_mode", mode), slog.String("because", why))
		return nil
	case ctx.Err() != nil:
		return nil
	}
	a.log.Error("refusing to serve", slog.Any("err", err))
	return err
}

func (a *App) shutdown(srv *http.Server, errc chan error) error {
	a.stopping.Store(true)
	if d := a.cfg.DrainDelay; d > 0 {
		a.log.Info("shutting down: /readyz answers 503 while load balancers drain", slog.Duration("delay", d))
		select {
		case <-time.After(d):
		case err := <-errc:
			return err
		}
	}
	a.log.Info("shutting down: finishing in-flight requests", slog.Duration("timeout", a.cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	a.log.Info("stopped")
	return nil
}

// httpServer bounds every phase of a connection, so a slow or hostile
// client cannot hold one open (see httpapi.NewHTTPServer).
func (a *App) httpServer() *http.Server {
	return httpapi.NewHTTPServer(a.handler, httpapi.HTTPServerOptions{RequestTimeout: a.cfg.RequestTimeout, Logger: a.log})
}
