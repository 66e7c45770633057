package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwksServer serves a JWKS that tests can change, and counts fetches.
type jwksServer struct {
	*httptest.Server
	hits   atomic.Int64
	mu     sync.Mutex
	body   []byte
	status int
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{body: body, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.WriteHeader(s.status)
		w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

const testMinRefresh = time.Minute // on the fake clock

func remoteVerifier(t *testing.T, url string, clock *fakeClock, cacheSize int) *Verifier {
	t.Helper()
	v, err := newVerifier(context.Background(), Config{
		JWKSURL: url, Issuer: testIssuer, Audience: testAudience,
		MinRefreshInterval: testMinRefresh, CacheSize: cacheSize,
		RefreshWait: DefaultFetchTimeout, // a loaded machine may be slow to answer even on localhost
	}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func TestRemoteRotationNeedsNoRestart(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	a, b := newTestKey(t, "EdDSA", "key-a"), newTestKey(t, "EdDSA", "key-b")
	srv := newJWKSServer(t, jwksJSON(t, a))
	v := remoteVerifier(t, srv.URL, clock, -1)
	if _, err := v.Verify(context.Background(), a.mint(t, claims(clock.Now()))); err != nil {
		t.Fatalf("token from key A: %v", err)
	}

	srv.serve(http.StatusOK, jwksJSON(t, a, b)) // Better Auth rotates; A stays for its grace period
	clock.Advance(testMinRefresh)
	if _, err := v.Verify(context.Background(), b.mint(t, claims(clock.Now()))); err != nil {
		t.Fatalf("token from new key B: %v", err)
	}
	if _, err := v.Verify(context.Background(), a.mint(t, claims(clock.Now()))); err != nil {
		t.Fatalf("token from old key A after rotation: %v", err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("JWKS fetched %d times, want 2 (start, then once for kid key-b)", got)
	}

	// Grace period over. The next refresh (periodic, or here one an unknown
	// kid triggers) drops A.
	srv.serve(http.StatusOK, jwksJSON(t, b))
	clock.Advance(testMinRefresh)
	unknown := signJWT(t, map[string]any{"alg": "EdDSA", "kid": "key-c"}, claims(clock.Now()), "EdDSA", b.priv)
	if _, err := v.Verify(context.Background(), unknown); !errors.Is(err, errUnknownKey) {
		t.Fatalf("token with kid key-c: err = %v, want %v", err, errUnknownKey)
	}
	if _, err := v.Verify(context.Background(), a.mint(t, claims(clock.Now()))); !errors.Is(err, errUnknownKey) {
		t.Fatalf("token from retired key A: err = %v, want %v", err, errUnknownKey)
	}
}

func TestRemoteUnknownKidStormFetchesOncePerInterval(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	a := newTestKey(t, "EdDSA", "key-a")
	srv := newJWKSServer(t, jwksJSON(t, a))
	v := remoteVerifier(t, srv.URL, clock, -1)

	storm := func(round int) {
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				forged := signJWT(t, map[string]any{"alg": "EdDSA", "kid": fmt.Sprintf("r%d-%d", round, i)},
					claims(clock.Now()), "EdDSA", a.priv)
				if _, err := v.Verify(context.Background(), forged); !errors.Is(err, errUnknownKey) {
					t.Errorf("err = %v, want %v", err, errUnknownKey)
				}
			})
		}
		wg.Wait()
	}
	tests := []struct {
		name     string
		advance  time.Duration
		wantHits int64
	}{
		{"NoFetchWithinIntervalOfStart", 0, 1},
		{"OneFetchAfterInterval", testMinRefresh, 2},
		{"NoFetchHalfAnIntervalLater", testMinRefresh / 2, 2},
		{"OneFetchAfterNextInterval", testMinRefresh / 2, 3},
	}
	for i, tt := range tests {
		clock.Advance(tt.advance)
		storm(i)
		if got := srv.hits.Load(); got != tt.wantHits {
			t.Fatalf("%s: JWKS fetched %d times, want %d", tt.name, got, tt.wantHits)
		}
	}
}

func TestRemoteStartsWithoutKeysAndRecovers(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	a := newTestKey(t, "EdDSA", "key-a")
	srv := newJWKSServer(t, nil)
	srv.serve(http.StatusServiceUnavailable, []byte("down"))
	v := remoteVerifier(t, srv.URL, clock, -1)
	if err := v.Ready(); !errors.Is(err, ErrKeysUnavailable) || !strings.Contains(err.Error(), "status: answered 503") {
		t.Fatalf("Ready() = %v before any JWKS loaded, want ErrKeysUnavailable naming the 503", err)
	}
	token := a.mint(t, claims(clock.Now()))
	_, err := v.Verify(context.Background(), token)
	if !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrKeysUnavailable and ErrInvalidToken", err)
	}

	srv.serve(http.StatusOK, jwksJSON(t, a))
	clock.Advance(testMinRefresh)
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("after the auth server recovered: %v", err)
	}
	if err := v.Ready(); err != nil {
		t.Fatalf("Ready() = %v after a JWKS loaded", err)
	}
}

func TestRemoteFailedRefreshKeepsKeys(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	a := newTestKey(t, "EdDSA", "key-a")
	srv := newJWKSServer(t, jwksJSON(t, a))
	v := remoteVerifier(t, srv.URL, clock, -1)

	for name, bad := range map[string]func(){
		"ServerError": func() { srv.serve(http.StatusInternalServerError, nil) },
		"NotJSON":     func() { srv.serve(http.StatusOK, []byte("<html>")) },
		"NoUsableKeys": func() {
			srv.serve(http.StatusOK, []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256","kid":"h"}]}`))
		},
		"TooLarge": func() { srv.serve(http.StatusOK, make([]byte, maxJWKSBytes+1)) },
	} {
		bad()
		clock.Advance(testMinRefresh)
		before := srv.hits.Load()
		forged := signJWT(t, map[string]any{"alg": "EdDSA", "kid": "unknown"}, claims(clock.Now()), "EdDSA", a.priv)
		v.Verify(context.Background(), forged) // triggers a refresh that fails
		if srv.hits.Load() != before+1 {
			t.Fatalf("%s: unknown kid did not trigger a fetch", name)
		}
		if _, err := v.Verify(context.Background(), a.mint(t, claims(clock.Now()))); err != nil {
			t.Fatalf("%s: key A lost after a failed refresh: %v", name, err)
		}
	}
}
