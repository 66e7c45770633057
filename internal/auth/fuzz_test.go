package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// FuzzVerifyRejectsWithoutPanicking feeds Verify arbitrary strings: it must
// never panic, whatever it rejects must match ErrInvalidToken without
// echoing the input, and whatever it accepts must carry the valid seed's
// claims (jwx decodes base64 leniently, so a variant of the seed whose
// segments differ only in unused trailing bits verifies too).
func FuzzVerifyRejectsWithoutPanicking(f *testing.F) {
	clock := newFakeClock()
	k := newTestKey(f, "EdDSA", "ed")
	v := fileVerifier(f, jwksJSON(f, k, newTestKey(f, "ES256", "es")), clock, func(c *Config) { c.CacheSize = -1 })
	valid := k.mint(f, claims(clock.Now()))
	want, err := v.Verify(context.Background(), valid)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{valid, "", "a.b.c", "..", valid + ".", strings.ToUpper(valid), valid[:len(valid)-3]} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		got, err := v.Verify(context.Background(), token)
		if err == nil {
			if got != want {
				t.Fatalf("accepted a token for %+v", got)
			}
			return
		}
		if !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("err = %v, want ErrInvalidToken", err)
		}
		if len(token) > 8 && strings.Contains(err.Error(), token) {
			t.Fatal("error text contains the token")
		}
	})
}
