package faults

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/app"
	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/devdb"
	"github.com/rowgate/rowgate/internal/pgtest"
)

// waitingFor returns what /readyz says it waits for, by component.
func waitingFor(t *testing.T, s *stack) (int, map[string]string) {
	t.Helper()
	status, body := s.get("/readyz", "")
	var p struct {
		WaitingFor []struct{ Component, Reason string } `json:"waiting_for"`
	}
	json.Unmarshal(body, &p)
	out := map[string]string{}
	for _, w := range p.WaitingFor {
		out[w.Component] = w.Reason
	}
	return status, out
}

// TestDatabaseDownAtStart starts rowgate while PostgreSQL is stopped: it
// keeps running, /healthz answers 200, /readyz answers 503 naming the
// database, an API request answers 503 (not 500) within its deadline, the
// state change is logged once rather than every try, and once PostgreSQL
// accepts connections rowgate is ready within 2 s and serves.
func TestDatabaseDownAtStart(t *testing.T) {
	t.Parallel()
	db := pgtest.NewClusterDB(t, devdb.Options{})
	ctx := context.Background()
	if err := db.Cluster().StopServer(ctx, devdb.ShutdownFast); err != nil {
		t.Fatal(err)
	}
	s := startStack(t, db, app.Config{RequestTimeout: 500 * time.Millisecond})
	token := s.token(t, "early-bird")
	time.Sleep(1500 * time.Millisecond) // several retries
	if status, _ := s.get("/healthz", ""); status != 200 {
		t.Errorf("/healthz while the database is down: %d", status)
	}
	status, waits := waitingFor(t, s)
	if status != 503 || !strings.Contains(waits["database"], "connection refused") {
		t.Errorf("/readyz while the database is down: %d, waiting for %v", status, waits)
	}
	if status, body := s.get("/v1/me", token); status != 503 || problemCode(body) != "unavailable" {
		t.Errorf("/v1/me while the database is down: %d %s", status, body)
	}
	if n := strings.Count(s.logs.String(), "server unreachable"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, s.logs)
	}
	if err := db.Cluster().StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	ready := s.waitReady(t, 10*time.Second)
	t.Logf("ready %v after PostgreSQL accepted connections", ready.Sub(up).Round(time.Millisecond))
	if ready.Sub(up) > 2*time.Second {
		t.Errorf("ready %v after the database came up, want within 2s", ready.Sub(up))
	}
	if status, body := s.get("/v1/me", token); status != 200 {
		t.Errorf("/v1/me once ready: %d %s", status, body)
	}
}

// jwksServer serves the public keys of some development keys over real
// HTTP on a fixed 127.0.0.1 port, and can stop and start again on it.
type jwksServer struct {
	addr string
	keys []*auth.DevKey
	srv  *http.Server
}

func (j *jwksServer) handler(w http.ResponseWriter, _ *http.Request) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	for _, k := range j.keys {
		data, _ := os.ReadFile(k.JWKSPath())
		var one struct {
			Keys []json.RawMessage `json:"keys"`
		}
		json.Unmarshal(data, &one)
		set.Keys = append(set.Keys, one.Keys...)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(set)
}

func (j *jwksServer) start(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 100 { // the port may linger a moment after stop
		if ln, err = net.Listen("tcp", j.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	j.srv = &http.Server{Handler: http.HandlerFunc(j.handler), ReadHeaderTimeout: time.Second}
	go j.srv.Serve(ln)
}

func (j *jwksServer) stop() {
	if j.srv != nil {
		j.srv.Close()
		j.srv = nil
	}
}

// TestJWKSDownAtStartAndLater: started while the JWKS URL refuses, rowgate
// waits for the keys (/readyz names them) and is ready within 2 s of the
// endpoint answering. When the endpoint goes down later, tokens whose key
// is known keep working, a token with an unknown key is refused (401)
// promptly, failures are counted in /metrics, and a key rotated in while
// it was down is picked up once the endpoint is back, without a token
// having to ask for it.
func TestJWKSDownAtStartAndLater(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	port, err := devdb.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	j := &jwksServer{addr: net.JoinHostPort("127.0.0.1", itoa(port))}
	defer j.stop()
	s := startStack(t, db, app.Config{
		JWKSURL: "http://" + j.addr + "/api/auth/jwks", JWKSMinRefresh: 200 * time.Millisecond, JWKSMaxRetry: 500 * time.Millisecond,
	})
	j.keys = []*auth.DevKey{s.key}
	time.Sleep(time.Second)
	if status, waits := waitingFor(t, s); status != 503 || waits["signing_keys"] == "" || strings.Contains(waits["signing_keys"], "127.0.0.1") {
		t.Errorf("/readyz while the JWKS is down: %d, waiting for %v (no address may show)", status, waits)
	}
	token := s.token(t, "jwks-user")
	j.start(t)
	up := time.Now()
	ready := s.waitReady(t, 10*time.Second)
	if ready.Sub(up) > 2*time.Second {
		t.Errorf("ready %v after the JWKS answered, want within 2s", ready.Sub(up))
	}
	if status, body := s.get("/v1/me", token); status != 200 {
		t.Fatalf("/v1/me once the keys loaded: %d %s", status, body)
	}

	j.stop() // the identity provider goes down
	rotated, err := auth.LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	newToken, err := rotated.Mint(callerOf("jwks-user"), issuer, audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if status, _ := s.get("/v1/me", token); status != 200 {
			t.Errorf("a token whose key is known, while the JWKS is down: %d", status)
		}
		start := time.Now()
		if status, _ := s.get("/v1/me", newToken); status != 401 || time.Since(start) > 1500*time.Millisecond {
			t.Errorf("an unknown key while the JWKS is down: %d after %v, want 401 promptly", status, time.Since(start))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if f := s.metric(t, `rowgate_jwks_fetch_failures_total{reason="network"}`); f < 1 {
		t.Errorf("fetch failures on /metrics: %v", f)
	}
	j.keys = append(j.keys, rotated) // rotated while it was down
	j.start(t)
	back := time.Now()
	for {
		if status, _ := s.get("/v1/me", token); status != 200 {
			t.Errorf("the old key after recovery: %d", status)
		}
		if s.metric(t, "rowgate_jwks_keys") == 2 {
			break
		}
		if time.Since(back) > 30*time.Second {
			t.Fatal("the rotated key was not picked up within 30s of the JWKS coming back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the rotated key was picked up %v after the JWKS came back", time.Since(back).Round(time.Millisecond))
	if status, body := s.get("/v1/me", newToken); status != 200 {
		t.Errorf("the rotated key's token: %d %s", status, body)
	}
}
