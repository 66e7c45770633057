package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/todo"
)

var allAlgs = []string{"EdDSA", "ES256", "ES512", "RS256", "PS256"}

func TestVerifyAcceptsEveryAllowedAlgorithm(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var keys []testKey
	for _, alg := range allAlgs {
		keys = append(keys, newTestKey(t, alg, "kid-"+alg))
	}
	v := fileVerifier(t, jwksJSON(t, keys...), clock, nil)
	for _, k := range keys {
		t.Run("Success"+k.alg, func(t *testing.T) {
			got, err := v.Verify(context.Background(), k.mint(t, claims(clock.Now())))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := todo.Caller{ID: "user-1", Email: "ada@example.com", Name: "Ada"}
			if got != want {
				t.Fatalf("caller = %+v, want %+v", got, want)
			}
		})
	}
}

// attackKeys is the JWKS every rejection case runs against.
type attackKeys struct {
	ed, es, rs testKey
	jwks       []byte
}

func newAttackKeys(t *testing.T) attackKeys {
	k := attackKeys{
		ed: newTestKey(t, "EdDSA", "ed"),
		es: newTestKey(t, "ES256", "es"),
		rs: newTestKey(t, "RS256", "rs"),
	}
	k.jwks = jwksJSON(t, k.ed, k.es, k.rs)
	return k
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	now := clock.Now()
	k := newAttackKeys(t)
	v := fileVerifier(t, k.jwks, clock, func(c *Config) { c.CacheSize = -1 })
	with := func(edit func(map[string]any)) map[string]any {
		c := claims(now)
		edit(c)
		return c
	}
	edPub := []byte(k.ed.priv.Public().(ed25519.PublicKey))
	other := newTestKey(t, "EdDSA", "ed")
	valid := k.ed.mint(t, claims(now))
	parts := strings.Split(valid, ".")

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"ErrAlgNone", signJWTNone(t, map[string]any{"alg": "none", "kid": "ed"}, claims(now), "AAAA"), errAlgorithm},
		{"ErrAlgNoneEmptySignature", signJWTNone(t, map[string]any{"alg": "none"}, claims(now), ""), errMalformed},
		{"ErrHS256KeyedWithJWKS", signJWT(t, map[string]any{"alg": "HS256", "kid": "ed"}, claims(now), "HS256", k.jwks), errAlgorithm},
		{"ErrHS256KeyedWithPublicKey", signJWT(t, map[string]any{"alg": "HS256", "kid": "ed"}, claims(now), "HS256", edPub), errAlgorithm},
		{"ErrHS256WithoutKid", signJWT(t, map[string]any{"alg": "HS256"}, claims(now), "HS256", edPub), errAlgorithm},
		{"ErrES256KeyEdDSAHeader", signJWT(t, map[string]any{"alg": "EdDSA", "kid": "es"}, claims(now), "EdDSA", k.ed.priv), errAlgMismatch},
		{"ErrRS256KeyPS256Header", signJWT(t, map[string]any{"alg": "PS256", "kid": "rs"}, claims(now), "PS256", k.rs.priv), errAlgMismatch},
		{"ErrUnknownKid", signJWT(t, map[string]any{"alg": "EdDSA", "kid": "nope"}, claims(now), "EdDSA", k.ed.priv), errUnknownKey},
		{"ErrNoKidSeveralKeys", signJWT(t, map[string]any{"alg": "EdDSA"}, claims(now), "EdDSA", k.ed.priv), errKidRequired},
		{"ErrCritHeader", signJWT(t, map[string]any{"alg": "EdDSA", "kid": "ed", "crit": []string{"exp"}, "exp": 1}, claims(now), "EdDSA", k.ed.priv), errHeader},
		{"ErrSignedByOtherKeySameKid", other.mint(t, claims(now)), errSignature},
		{"ErrTamperedPayload", parts[0] + "." + b64JSON(t, with(func(c map[string]any) { c["sub"] = "admin" })) + "." + parts[2], errSignature},
		{"ErrTamperedSignature", parts[0] + "." + parts[1] + "." + flipFirst(parts[2]), errSignature},
		{"ErrExpired", k.ed.mint(t, with(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })), ErrTokenExpired},
		{"ErrExpiredJustBeyondSkew", k.ed.mint(t, with(func(c map[string]any) { c["exp"] = now.Add(-DefaultSkew).Unix() })), ErrTokenExpired},
		{"ErrExpZero", k.ed.mint(t, with(func(c map[string]any) { c["exp"] = 0 })), ErrTokenExpired},
		{"ErrMissingExp", k.ed.mint(t, with(func(c map[string]any) { delete(c, "exp") })), errMissingExp},
		{"ErrNotYetValid", k.ed.mint(t, with(func(c map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() })), errNotYetValid},
		{"ErrIssuedInFuture", k.ed.mint(t, with(func(c map[string]any) { c["iat"] = now.Add(2 * time.Minute).Unix() })), errIssuedInFuture},
		{"ErrWrongIssuer", k.ed.mint(t, with(func(c map[string]any) { c["iss"] = "https://evil.example" })), errIssuer},
		{"ErrMissingIssuer", k.ed.mint(t, with(func(c map[string]any) { delete(c, "iss") })), errIssuer},
		{"ErrWrongAudience", k.ed.mint(t, with(func(c map[string]any) { c["aud"] = "https://other.example" })), errAudience},
		{"ErrAudienceArrayWithoutUs", k.ed.mint(t, with(func(c map[string]any) { c["aud"] = []string{"a", "b"} })), errAudience},
		{"ErrMissingSub", k.ed.mint(t, with(func(c map[string]any) { delete(c, "sub") })), errSubject},
		{"ErrEmptySub", k.ed.mint(t, with(func(c map[string]any) { c["sub"] = "" })), errSubject},
		{"ErrSub256Chars", k.ed.mint(t, with(func(c map[string]any) { c["sub"] = strings.Repeat("é", 256) })), errSubject},
		{"ErrSubControlChar", k.ed.mint(t, with(func(c map[string]any) { c["sub"] = "user\n1" })), errSubject},
		{"ErrSubNotString", k.ed.mint(t, with(func(c map[string]any) { c["sub"] = 42 })), errMalformed},
		{"ErrPayloadNotJSON", signRaw(t, k.ed, "hello"), errMalformed},
		{"ErrGarbage", "garbage", errMalformed},
		{"ErrThreeGarbageSegments", "a.b.c", errMalformed},
		{"ErrEmpty", "", errMalformed},
		{"ErrFourSegments", valid + ".x", errMalformed},
		{"ErrPaddedSegment", parts[0] + "=." + parts[1] + "." + parts[2], errMalformed},
		{"ErrJSONSerialization", `{"payload":"` + parts[1] + `","signatures":[]}`, errMalformed},
		{"ErrOversized", strings.Repeat("a", MaxTokenBytes-len(valid)+1) + valid, errTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := v.Verify(context.Background(), tt.token)
			if !errors.Is(err, ErrInvalidToken) || !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want ErrInvalidToken and %v", err, tt.want)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Fatal("error text contains the token")
			}
		})
	}
}

func TestVerifyAcceptsEdgeCases(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	now := clock.Now()
	k := newAttackKeys(t)
	v := fileVerifier(t, k.jwks, clock, nil)
	only := newTestKey(t, "ES512", "")
	single := fileVerifier(t, jwksJSON(t, only), clock, nil)
	with := func(edit func(map[string]any)) map[string]any {
		c := claims(now)
		edit(c)
		return c
	}
	long := strings.Repeat("é", todo.MaxUserIDLen)

	tests := []struct {
		name  string
		v     *Verifier
		token string
		want  todo.Caller
	}{
		{"SuccessExpiredWithinSkew", v, k.ed.mint(t, with(func(c map[string]any) { c["exp"] = now.Add(-10 * time.Second).Unix() })), todo.Caller{ID: "user-1", Email: "ada@example.com", Name: "Ada"}},
		{"SuccessNbfWithinSkew", v, k.ed.mint(t, with(func(c map[string]any) { c["nbf"] = now.Add(10 * time.Second).Unix() })), todo.Caller{ID: "user-1", Email: "ada@example.com", Name: "Ada"}},
		{"SuccessSub255Chars", v, k.ed.mint(t, with(func(c map[string]any) { c["sub"] = long })), todo.Caller{ID: long, Email: "ada@example.com", Name: "Ada"}},
		{"SuccessAudienceArray", v, k.es.mint(t, with(func(c map[string]any) { c["aud"] = []string{"x", testAudience} })), todo.Caller{ID: "user-1", Email: "ada@example.com", Name: "Ada"}},
		{"SuccessNoIatNoProfile", v, k.rs.mint(t, with(func(c map[string]any) { delete(c, "iat"); delete(c, "email"); delete(c, "name") })), todo.Caller{ID: "user-1"}},
		{"SuccessDropsOverlongEmailAndName", v, k.ed.mint(t, with(func(c map[string]any) {
			c["email"] = strings.Repeat("a", maxEmailLen+1)
			c["name"] = strings.Repeat("n", maxNameLen+1)
		})), todo.Caller{ID: "user-1"}},
		{"SuccessIgnoresNonStringProfile", v, k.ed.mint(t, with(func(c map[string]any) { c["email"] = 7; c["name"] = []string{"x"} })), todo.Caller{ID: "user-1"}},
		{"SuccessNoKidSingleKey", single, signJWT(t, map[string]any{"alg": "ES512"}, claims(now), "ES512", only.priv), todo.Caller{ID: "user-1", Email: "ada@example.com", Name: "Ada"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.v.Verify(context.Background(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got != tt.want {
				t.Fatalf("caller = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestVerifyOptOuts(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	k := newTestKey(t, "EdDSA", "ed")
	c := claims(clock.Now())
	c["iss"], c["aud"] = "https://anyone.example", "https://anything.example"
	token := k.mint(t, c)
	t.Run("SuccessAllowAnyIssuerAndAudience", func(t *testing.T) {
		v := fileVerifier(t, jwksJSON(t, k), clock, func(c *Config) {
			c.Issuer, c.Audience, c.AllowAnyIssuer, c.AllowAnyAudience = "", "", true, true
		})
		if _, err := v.Verify(context.Background(), token); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("ErrIssuerStillCheckedWhenSet", func(t *testing.T) {
		v := fileVerifier(t, jwksJSON(t, k), clock, func(c *Config) { c.AllowAnyIssuer, c.AllowAnyAudience = true, true })
		if _, err := v.Verify(context.Background(), token); !errors.Is(err, errIssuer) {
			t.Fatalf("err = %v, want %v", err, errIssuer)
		}
	})
}

// signJWTNone builds an unsigned token with a literal signature segment.
func signJWTNone(t *testing.T, hdr, payload map[string]any, sig string) string {
	return b64JSON(t, hdr) + "." + b64JSON(t, payload) + "." + sig
}

// signRaw signs an arbitrary payload string with k.
func signRaw(t *testing.T, k testKey, payload string) string {
	input := b64JSON(t, k.header()) + "." + b64(payload)
	return input + "." + b64(string(signBytes(t, k.alg, k.priv, []byte(input))))
}

// flipFirst changes the first character of a base64url segment.
func flipFirst(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}
