package auth

// The remote JWKS source against a real HTTP server on a real port, which
// the tests stop (the port refuses), restart on the same port, or make
// answer 5xx, garbage or nothing at all. Real time runs here, so the bounds
// are generous and only upper bounds; remote_timing_test.go checks the
// exact schedule on synctest's fake clock.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// realVerifier builds a Verifier on url in real time with the token cache
// off; edit adjusts the config.
func realVerifier(t *testing.T, url string, edit func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{JWKSURL: url, Issuer: testIssuer, Audience: testAudience, CacheSize: -1}
	if edit != nil {
		edit(&cfg)
	}
	v, err := NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func TestRemoteRealDownAtStartThenUp(t *testing.T) {
	t.Parallel()
	a := newTestKey(t, "EdDSA", "key-a")
	srv := startRealIdP(t, newIdP(t, jwksJSON(t, a)))
	srv.stop() // rowgate starts while the JWKS URL refuses connections

	start := time.Now()
	v := realVerifier(t, srv.URL, nil)
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("NewVerifier took %s against a refusing endpoint", d)
	}
	err := v.Ready()
	if !errors.Is(err, ErrKeysUnavailable) || !strings.Contains(err.Error(), "signing keys (JWKS "+srv.URL+"): network: ") {
		t.Fatalf("Ready() = %v, want ErrKeysUnavailable naming %s and a network failure", err, srv.URL)
	}
	if _, err := v.Verify(context.Background(), a.mint(t, claims(time.Now()))); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("Verify before keys: err = %v, want ErrKeysUnavailable", err)
	}
	// Let the start-up backoff reach its cap (100+200+400+800 ms, then 1 s).
	waitFor(t, 30*time.Second, "six attempts", func() bool { return v.KeyStats().Fetches >= 6 })

	srv.restart(t)
	d := waitFor(t, 10*time.Second, "ready after the endpoint came back", func() bool { return v.Ready() == nil })
	t.Logf("ready %s after the endpoint came back", d)
	if d > 2*time.Second {
		t.Fatalf("ready %s after the endpoint came back, want within 2 s", d)
	}
	mustVerify(t, v, a.mint(t, claims(time.Now())), "token once ready")
}

func TestRemoteRealFaultsKeepKnownKeys(t *testing.T) {
	t.Parallel()
	a := newTestKey(t, "EdDSA", "key-a")
	p := newIdP(t, jwksJSON(t, a))
	srv := startRealIdP(t, p)
	v := realVerifier(t, srv.URL, func(c *Config) {
		c.MinRefreshInterval, c.MaxRetryInterval = 50*time.Millisecond, 200*time.Millisecond
		c.FetchTimeout, c.RefreshWait = 500*time.Millisecond, 100*time.Millisecond
	})
	known := a.mint(t, claims(time.Now()))
	faults := []struct {
		name    string
		apply   func()
		counter func(FetchFailures) uint64
	}{
		{"Refused", srv.stop, func(f FetchFailures) uint64 { return f.Network }},
		{"ServerError", func() { srv.restart(t); p.serve(http.StatusInternalServerError, []byte("oops")) },
			func(f FetchFailures) uint64 { return f.Status }},
		{"HTMLBody", func() { p.serve(http.StatusOK, []byte("<html>maintenance</html>")) },
			func(f FetchFailures) uint64 { return f.Parse }},
		{"EmptyBody", func() { p.serve(http.StatusOK, nil) }, func(f FetchFailures) uint64 { return f.Parse }},
		{"EmptyKeySet", func() { p.serve(http.StatusOK, []byte(`{"keys":[]}`)) },
			func(f FetchFailures) uint64 { return f.Parse }},
		{"TooLarge", func() { p.serve(http.StatusOK, make([]byte, maxJWKSBytes+1)) },
			func(f FetchFailures) uint64 { return f.Parse }},
		{"Hanging", p.hangUp, func(f FetchFailures) uint64 { return f.Timeout }},
	}
	for _, f := range faults {
		before := f.counter(v.KeyStats().Failures)
		f.apply()
		waitFor(t, 10*time.Second, f.name+": a failure of its class", func() bool {
			v.Verify(context.Background(), unknownKid(t, a, "new")) // asks for a fetch
			return f.counter(v.KeyStats().Failures) > before
		})
		mustVerify(t, v, known, f.name+": known kid")
		if s := v.KeyStats(); !s.Loaded || s.Keys != 1 || s.ConsecutiveFailures == 0 {
			t.Fatalf("%s: stats = %+v, want the first set kept and the failures counted", f.name, s)
		}
	}
	if err := v.Ready(); err != nil {
		t.Fatalf("Ready() = %v during the outage, want nil: the keys are still there", err)
	}
}

func TestRemoteRealUnknownKidAgainstHangingEndpointIsPrompt(t *testing.T) {
	t.Parallel()
	a := newTestKey(t, "EdDSA", "key-a")
	p := newIdP(t, jwksJSON(t, a))
	srv := startRealIdP(t, p)
	v := realVerifier(t, srv.URL, func(c *Config) {
		c.MinRefreshInterval, c.RefreshWait = time.Millisecond, 300*time.Millisecond
	})
	p.hangUp()
	time.Sleep(2 * time.Millisecond) // past MinRefreshInterval: the unknown kid may fetch

	start := time.Now()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), unknownKid(t, a, "new-"+string(rune('a'+i))))
			if !isUnknownKid(err) {
				t.Errorf("unknown kid: err = %v, want the invalid-token error for an unknown kid", err)
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("unknown kids against a hanging endpoint answered after %s, want under 1.5 s", d)
	}
	mustVerify(t, v, a.mint(t, claims(time.Now())), "known kid while the endpoint hangs")
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("known kid answered after %s", d)
	}
	if got := p.hits.Load(); got != 2 {
		t.Fatalf("%d requests reached the endpoint, want 2 (start, one shared fetch)", got)
	}
}

func TestRemoteRealRotationAfterRecovery(t *testing.T) {
	t.Parallel()
	a, b := newTestKey(t, "EdDSA", "key-a"), newTestKey(t, "EdDSA", "key-b")
	p := newIdP(t, jwksJSON(t, a))
	srv := startRealIdP(t, p)
	const retryCap = 400 * time.Millisecond
	v := realVerifier(t, srv.URL, func(c *Config) {
		c.MinRefreshInterval, c.MaxRetryInterval = 100*time.Millisecond, retryCap
	})
	srv.stop()
	waitFor(t, 10*time.Second, "a first failure", func() bool {
		v.Verify(context.Background(), unknownKid(t, a, "new")) // asks for a fetch
		return v.KeyStats().ConsecutiveFailures > 0
	})
	// From now on no token asks for anything: the background retries alone.
	waitFor(t, 30*time.Second, "three failed attempts", func() bool { return v.KeyStats().ConsecutiveFailures >= 3 })

	p.serve(http.StatusOK, jwksJSON(t, a, b)) // back, and rotated; no token asks for key-b
	srv.restart(t)
	d := waitFor(t, 10*time.Second, "key-b seen", func() bool { return v.KeyStats().Keys == 2 })
	t.Logf("new key seen %s after the endpoint came back (retry cap %s)", d, retryCap)
	if d > retryCap+time.Second {
		t.Fatalf("new key seen %s after the endpoint came back, want within the retry cap (%s) and a second", d, retryCap)
	}
	mustVerify(t, v, b.mint(t, claims(time.Now())), "token from the new key")
}

func TestRemoteRealFloodWhileFailingStaysRateLimited(t *testing.T) {
	t.Parallel()
	a := newTestKey(t, "EdDSA", "key-a")
	p := newIdP(t, jwksJSON(t, a))
	srv := startRealIdP(t, p)
	const minInterval = 200 * time.Millisecond
	v := realVerifier(t, srv.URL, func(c *Config) { c.MinRefreshInterval = minInterval })
	p.serve(http.StatusServiceUnavailable, nil)

	start, before := time.Now(), p.hits.Load()
	var wg sync.WaitGroup
	for g := range 20 {
		forged := unknownKid(t, a, "flood-"+string(rune('a'+g)))
		wg.Go(func() {
			for time.Since(start) < time.Second {
				v.Verify(context.Background(), forged)
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	got, most := p.hits.Load()-before, int64(elapsed/minInterval)+1
	t.Logf("%d requests reached the endpoint in %s of flooding", got, elapsed)
	if got > most {
		t.Fatalf("%d requests reached the endpoint in %s, want at most %d (one per %s)", got, elapsed, most, minInterval)
	}
}
