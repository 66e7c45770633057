package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/pgtest"
)

// TestServeDrainsBeforeShutdown: with a drain delay, SIGTERM turns /readyz
// to 503 while the server still answers everything else; then the listener
// closes.
func TestServeDrainsBeforeShutdown(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	_, jwks := devJWKS(t)
	cfg := serveConfig{
		DatabaseURL: db.URL(pgtest.App), ListenAddr: "127.0.0.1:0", JWKSFile: jwks,
		Issuer: serveIssuer, Audience: serveAudience, LogFormat: "json", LogLevel: "info",
		RequestTimeout: 10 * time.Second, StatementTimeout: 5 * time.Second,
		ShutdownTimeout: 10 * time.Second, DrainDelay: time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc, errc := make(chan string, 1), make(chan error, 1)
	go func() {
		errc <- serve(ctx, cfg, newLogger(&lockedBuffer{}, "json", "info"), func(a string) { addrc <- a })
	}()
	addr := <-addrc
	get := func(path string) int {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	waitReady(t, addr)
	start := time.Now()
	cancel()
	for get("/readyz") != 503 {
		if time.Since(start) > 500*time.Millisecond {
			t.Fatal("/readyz did not turn 503")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := get("/healthz"); got != 200 {
		t.Errorf("/healthz while draining: %d", got)
	}
	waitRefused(t, addr)
	if took := time.Since(start); took < time.Second {
		t.Errorf("the listener closed after %v, before the drain delay", took)
	}
	if err := <-errc; err != nil {
		t.Errorf("serve: %v", err)
	}
}
