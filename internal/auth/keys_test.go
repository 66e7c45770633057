package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

func TestUsableKey(t *testing.T) {
	t.Parallel()
	ed := newTestKey(t, "EdDSA", "ed")
	p256 := newTestKey(t, "ES256", "p256")
	p521 := newTestKey(t, "ES512", "p521")
	rs := newTestKey(t, "RS256", "rs")
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pub := func(raw any, members map[string]any) jwk.Key {
		k, err := jwk.FromRaw(raw)
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range members {
			mustSet(t, k, name, v)
		}
		return k
	}
	parse := func(s string) jwk.Key {
		k, err := jwk.ParseKey([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	shortX := base64.RawURLEncoding.EncodeToString([]byte("too short"))

	tests := []struct {
		name    string
		key     jwk.Key
		wantAlg jwa.SignatureAlgorithm // "" means the key must be refused
	}{
		{"Ed25519WithoutAlgIsEdDSA", pub(ed.priv.Public(), nil), jwa.EdDSA},
		{"P256WithoutAlgIsES256", pub(p256.priv.Public(), nil), jwa.ES256},
		{"P521WithoutAlgIsES512", pub(p521.priv.Public(), nil), jwa.ES512},
		{"RSAWithRS256", pub(rs.priv.Public(), map[string]any{"alg": "RS256"}), jwa.RS256},
		{"RSAWithPS256", pub(rs.priv.Public(), map[string]any{"alg": "PS256"}), jwa.PS256},
		{"PrivateJWKUsesPublicHalf", pub(ed.priv, map[string]any{"alg": "EdDSA"}), jwa.EdDSA},
		{"RefusedRSAWithoutAlg", pub(rs.priv.Public(), nil), ""},
		{"RefusedRSAWithRS512", pub(rs.priv.Public(), map[string]any{"alg": "RS512"}), ""},
		{"RefusedRSA1024", pub(short.Public(), map[string]any{"alg": "RS256"}), ""},
		{"RefusedHMACKey", pub([]byte("secret"), map[string]any{"alg": "HS256"}), ""},
		{"RefusedES256OnP521", pub(p521.priv.Public(), map[string]any{"alg": "ES256"}), ""},
		{"RefusedEdDSAOnEC", pub(p256.priv.Public(), map[string]any{"alg": "EdDSA"}), ""},
		{"RefusedP384", pub(p384.Public(), nil), ""},
		{"RefusedUseEnc", pub(ed.priv.Public(), map[string]any{"use": "enc"}), ""},
		{"RefusedKeyOpsWithoutVerify", pub(ed.priv.Public(), map[string]any{"key_ops": []string{"encrypt"}}), ""},
		{"RefusedShortEd25519", parse(`{"kty":"OKP","crv":"Ed25519","x":"` + shortX + `"}`), ""},
		{"RefusedX25519", parse(`{"kty":"OKP","crv":"X25519","x":"` + base64.RawURLEncoding.EncodeToString(make([]byte, 32)) + `"}`), ""},
		{"RefusedPointOffCurve", parse(`{"kty":"EC","crv":"P-256","x":"AQ","y":"AQ","alg":"ES256"}`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := usableKey(tt.key)
			if tt.wantAlg == "" {
				if err == nil {
					t.Fatalf("key accepted for %s, want it refused", got.alg)
				}
				return
			}
			if err != nil || got.alg != tt.wantAlg {
				t.Fatalf("alg = %q, err = %v; want %s", got.alg, err, tt.wantAlg)
			}
		})
	}
}

func TestParseKeySet(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	ed := newTestKey(t, "EdDSA", "ed")
	good := string(jwksJSON(t, ed))
	mixed := strings.Replace(good, `{"keys":[`, `{"keys":[{"kty":"weird","kid":"w"},{"kty":"oct","k":"c2VjcmV0","alg":"HS256","kid":"h"},`, 1)

	t.Run("SkipsUnusableKeys", func(t *testing.T) {
		s, err := parseKeySet([]byte(mixed), log)
		if err != nil {
			t.Fatal(err)
		}
		if s.kids() != "ed" {
			t.Fatalf("kids = %q, want only ed", s.kids())
		}
	})
	for name, doc := range map[string]string{
		"ErrNoUsableKey": `{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256","kid":"h"}]}`,
		"ErrEmptySet":    `{"keys":[]}`,
		"ErrNotJSON":     `<html>`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseKeySet([]byte(doc), log); err == nil {
				t.Fatal("parsed, want an error")
			}
		})
	}
}
