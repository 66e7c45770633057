package auth

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestKnown: only a token that verified, still before its exp, is known;
// asking never verifies.
func TestKnown(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	k := newTestKey(t, "EdDSA", "ed")
	v := fileVerifier(t, jwksJSON(t, k), clock, nil)
	c := claims(clock.Now())
	c["exp"] = clock.Now().Add(time.Minute).Unix()
	good := k.mint(t, c)
	header := func(values ...string) http.Header { return http.Header{"Authorization": values} }

	if v.Known(header("Bearer " + good)) {
		t.Fatal("a token never verified is known")
	}
	if v.Known(header("Bearer " + good)) {
		t.Fatal("asking verified the token")
	}
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]http.Header{
		"Missing": {}, "OtherScheme": header("Basic " + good), "TwoHeaders": header("Bearer "+good, "Bearer "+good),
		"Tampered": header("Bearer " + good + "x"),
	} {
		if v.Known(h) {
			t.Errorf("%s: known", name)
		}
	}
	if !v.Known(header("bearer  " + good)) {
		t.Fatal("a verified token is not known")
	}
	clock.Advance(time.Minute)
	if v.Known(header("Bearer " + good)) {
		t.Fatal("an expired token is still known")
	}
}

func TestKnownWithoutCache(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	k := newTestKey(t, "EdDSA", "ed")
	v := fileVerifier(t, jwksJSON(t, k), clock, func(c *Config) { c.CacheSize = -1 })
	good := k.mint(t, claims(clock.Now()))
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	if v.Known(http.Header{"Authorization": {"Bearer " + good}}) {
		t.Fatal("known without a cache")
	}
}
