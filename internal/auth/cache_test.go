package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/todo"
)

func TestTokenCache(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ada := todo.Caller{ID: "ada"}

	t.Run("HitUntilExpMissAtExp", func(t *testing.T) {
		c := newTokenCache(10)
		c.put(cacheKey("t"), ada, now.Add(time.Minute))
		if got, ok := c.get(cacheKey("t"), now.Add(time.Minute-time.Nanosecond)); !ok || got != ada {
			t.Fatalf("just before exp: got %+v, %v; want a hit", got, ok)
		}
		if _, ok := c.get(cacheKey("t"), now.Add(time.Minute)); ok {
			t.Fatal("hit at exp")
		}
		if c.len() != 0 {
			t.Fatal("expired entry kept")
		}
	})
	t.Run("MissForOtherToken", func(t *testing.T) {
		c := newTokenCache(10)
		c.put(cacheKey("t"), ada, now.Add(time.Minute))
		if _, ok := c.get(cacheKey("u"), now); ok {
			t.Fatal("hit for a token never stored")
		}
	})
	t.Run("Bounded", func(t *testing.T) {
		c := newTokenCache(100)
		for i := range 1000 {
			c.put(cacheKey(fmt.Sprint(i)), ada, now.Add(time.Minute))
		}
		if n := c.len(); n > 100 {
			t.Fatalf("cache holds %d entries, bound is 100", n)
		}
		if _, ok := c.get(cacheKey("999"), now); !ok {
			t.Fatal("newest entry evicted")
		}
	})
	t.Run("KeepsTokensInUse", func(t *testing.T) {
		c := newTokenCache(10)
		c.put(cacheKey("hot"), ada, now.Add(time.Minute))
		for i := range 50 {
			c.put(cacheKey(fmt.Sprint(i)), ada, now.Add(time.Minute))
			if _, ok := c.get(cacheKey("hot"), now); !ok {
				t.Fatalf("token in use evicted after %d inserts", i+1)
			}
		}
	})
	t.Run("OffWhenSizeNegative", func(t *testing.T) {
		c := newTokenCache(-1)
		c.put(cacheKey("t"), ada, now.Add(time.Minute))
		if _, ok := c.get(cacheKey("t"), now); ok {
			t.Fatal("disabled cache hit")
		}
	})
}

// TestVerifyCache removes the verifying key after the first Verify (unless
// keepKey), so only a cache hit can accept the token again.
func TestVerifyCache(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, "EdDSA", "ed")
	tests := []struct {
		name      string
		cacheSize int
		keepKey   bool
		later     time.Duration // after the first Verify
		wantErr   error
	}{
		{"SuccessCachedBeforeExp", 0, false, 14 * time.Minute, nil},
		{"ErrCacheOff", -1, false, time.Minute, errUnknownKey},
		{"ErrCachedTokenAtExp", 0, false, 15 * time.Minute, errUnknownKey},
		{"ErrCachedTokenPastExpAndSkew", 0, true, 15*time.Minute + DefaultSkew, ErrTokenExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			v := fileVerifier(t, jwksJSON(t, k), clock, func(c *Config) { c.CacheSize = tt.cacheSize })
			token := k.mint(t, claims(clock.Now())) // exp = now + 15m
			if _, err := v.Verify(context.Background(), token); err != nil {
				t.Fatalf("first Verify: %v", err)
			}
			if !tt.keepKey {
				v.keys = staticKeys{set: &keySet{byKID: map[string][]verifyKey{}}} // every key gone
			}
			clock.Advance(tt.later)
			_, err := v.Verify(context.Background(), token)
			if (tt.wantErr == nil) != (err == nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("second Verify: err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyCachesOnlyVerifiedTokens(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	k := newTestKey(t, "EdDSA", "ed")
	v := fileVerifier(t, jwksJSON(t, k), clock, nil)
	c := claims(clock.Now())
	c["aud"] = "https://other.example"
	bad := k.mint(t, c)
	for range 2 {
		if _, err := v.Verify(context.Background(), bad); !errors.Is(err, errAudience) {
			t.Fatalf("err = %v, want %v", err, errAudience)
		}
	}
	if n := v.cache.len(); n != 0 {
		t.Fatalf("cache holds %d entries after rejections, want 0", n)
	}
}
