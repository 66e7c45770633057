//go:build e2e

package e2e

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/auth"
)

// Better Auth's key rotation, as configured here: each key signs for
// rotationInterval, then stays in the JWKS for gracePeriod, which covers a
// whole token lifetime as docs/better-auth.md requires.
const (
	rotationInterval = 3 * time.Second
	gracePeriod      = time.Hour
	tokenLifetime    = 15 * time.Minute
)

// TestRotation shows that one running rowgate, never restarted, accepts
// tokens signed by a key Better Auth minted after rowgate started, and
// keeps accepting tokens signed by the key before it.
//
// rowgate refetches the JWKS when a token names an unknown kid, but at most
// once per auth.DefaultMinRefreshInterval (10s). So the test presents the
// first new-key token only when rowgate's last fetch is at least that old,
// and asserts it is accepted on the first try. It then rotates once more
// and presents the next token at once, inside the rate limit: that one may
// be refused until the limit lets rowgate refetch, and must be accepted
// within that bound. It logs what it observed.
func TestRotation(t *testing.T) {
	t.Parallel()
	ba := startBetterAuth(t, "ba_rotation",
		"JWT_ROTATION_INTERVAL="+seconds(rotationInterval),
		"JWT_GRACE_PERIOD="+seconds(gracePeriod),
		"JWT_EXPIRATION="+seconds(tokenLifetime))
	erin := ba.signUp(t, "erin.rotation@example.com", "Erin")
	frank := ba.signUp(t, "frank.rotation@example.com", "Frank")
	oldKID := sameKey(t, ba, &erin, &frank)

	rg := startRowgate(t, wiredTo(ba), true)
	lastFetch := time.Now() // rowgate fetched the JWKS before it was ready
	expectAccepted(t, rg, erin.token, "erin's token, old key, before the rotation")

	// Wait out the old key, then ask for a token: Better Auth mints a new key.
	time.Sleep(rotationInterval + time.Second)
	erin.token = ba.token(t, erin)
	newKID := kidOf(t, erin.token)
	if newKID == oldKID {
		t.Fatalf("after %s Better Auth still signs with %s; no rotation", rotationInterval+time.Second, oldKID)
	}
	if kids := publishedKIDs(t, ba); !slices.Contains(kids, oldKID) || !slices.Contains(kids, newKID) {
		t.Fatalf("JWKS kids %v, want both the old %s and the new %s", kids, oldKID, newKID)
	}

	// First try, outside the refetch rate limit: accepted at once.
	sleepUntil(lastFetch.Add(auth.DefaultMinRefreshInterval + time.Second))
	lastFetch = time.Now()
	expectAccepted(t, rg, erin.token, "erin's token, new key, first try")
	t.Logf("rowgate accepted the new key %s on the first try; its log: %q", newKID, jwksLoaded(rg))

	// The old key still verifies after the refetch: frank's token was never
	// shown to rowgate, so no cache can answer for it.
	expectAccepted(t, rg, frank.token, "frank's token, old key, after the rotation")

	rotateInsideRateLimit(t, ba, rg, erin, lastFetch)
	// By now rowgate has verified frank's token once, so its cache may
	// answer; the JWKS it just fetched still lists the old key anyway.
	expectAccepted(t, rg, frank.token, "frank's token, old key, after two rotations")
	if kids := publishedKIDs(t, ba); !slices.Contains(kids, oldKID) {
		t.Errorf("JWKS kids %v no longer list the old key %s inside its grace period", kids, oldKID)
	}
}

// rotateInsideRateLimit rotates again and presents the new token while
// rowgate's last JWKS fetch (at lastFetch) is still recent.
func rotateInsideRateLimit(t *testing.T, ba *betterAuth, rg *rowgate, u user, lastFetch time.Time) {
	t.Helper()
	time.Sleep(rotationInterval + time.Second)
	u.token = ba.token(t, u)
	kid := kidOf(t, u.token)
	presented := time.Now()
	first := rg.me(t, u.token).status
	status := first
	for status != http.StatusOK && time.Since(presented) < auth.DefaultMinRefreshInterval+5*time.Second {
		time.Sleep(250 * time.Millisecond)
		status = rg.me(t, u.token).status
	}
	if status != http.StatusOK {
		t.Fatalf("a token signed by the new key %s still answers %d %s after it was first presented",
			kid, status, time.Since(presented).Round(time.Millisecond))
	}
	t.Logf("second rotation, new key %s presented %s after rowgate's last JWKS fetch: first try %d, accepted after %s",
		kid, presented.Sub(lastFetch).Round(time.Millisecond), first, time.Since(presented).Round(time.Millisecond))
}

// sameKey refreshes the users' tokens until both carry the same kid (a
// rotation may fall between two requests) and returns it.
func sameKey(t *testing.T, ba *betterAuth, a, b *user) string {
	t.Helper()
	for range 3 {
		a.token, b.token = ba.token(t, *a), ba.token(t, *b)
		if kid := kidOf(t, a.token); kid == kidOf(t, b.token) {
			return kid
		}
	}
	t.Fatal("tokens requested back to back keep having different kids")
	return ""
}

func expectAccepted(t *testing.T, rg *rowgate, token, what string) {
	t.Helper()
	if res := rg.me(t, token); res.status != http.StatusOK {
		t.Fatalf("%s: GET /v1/me: %d %s", what, res.status, res.body)
	}
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	return decodeJWT(t, token).Header.KID
}

func publishedKIDs(t *testing.T, ba *betterAuth) []string {
	t.Helper()
	var kids []string
	for _, k := range ba.jwks(t) {
		kids = append(kids, k.KID)
	}
	return kids
}

var jwksLoadedLine = regexp.MustCompile(`msg="auth: JWKS loaded"`)

// jwksLoaded returns rowgate's "JWKS loaded" log lines: one per key set it
// loaded that differed from the previous one.
func jwksLoaded(rg *rowgate) []string { return rg.proc.matching(jwksLoadedLine) }

// seconds formats d as whole seconds, as server.mjs reads them.
func seconds(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }
