package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

const (
	testIssuer   = "https://app.example"
	testAudience = "https://app.example"
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testKey is a signing key and how it appears in a JWKS.
type testKey struct {
	kid   string
	alg   string // what the token header says and how it is signed
	priv  crypto.Signer
	noAlg bool // leave "alg" out of the JWKS entry
}

var (
	rsaOnce sync.Once
	rsaKeys [2]*rsa.PrivateKey
)

// rsaKey returns one of two RSA-2048 keys generated once per test binary.
func rsaKey(t testing.TB, i int) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		for j := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[j] = k
		}
	})
	return rsaKeys[i]
}

func newTestKey(t testing.TB, alg, kid string) testKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES512":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "RS256":
		priv = rsaKey(t, 0)
	case "PS256":
		priv = rsaKey(t, 1)
	default:
		t.Fatalf("no test key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, alg: alg, priv: priv}
}

// jwksJSON is the public JWKS of keys, as an issuer would serve it.
func jwksJSON(t testing.TB, keys ...testKey) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		pk, err := jwk.FromRaw(k.priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		mustSet(t, pk, jwk.KeyIDKey, k.kid)
		if !k.noAlg {
			mustSet(t, pk, jwk.AlgorithmKey, k.alg)
		}
		if err := set.AddKey(pk); err != nil {
			t.Fatal(err)
		}
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustSet(t testing.TB, k jwk.Key, name string, v any) {
	t.Helper()
	if err := k.Set(name, v); err != nil {
		t.Fatal(err)
	}
}

// claims are the claims of a valid token at now.
func claims(now time.Time) map[string]any {
	return map[string]any{
		"sub":   "user-1",
		"iss":   testIssuer,
		"aud":   testAudience,
		"iat":   now.Unix(),
		"exp":   now.Add(15 * time.Minute).Unix(),
		"email": "ada@example.com",
		"name":  "Ada",
	}
}

// header is the protected header Better Auth writes: alg and kid, no typ.
func (k testKey) header() map[string]any { return map[string]any{"alg": k.alg, "kid": k.kid} }

// mint signs c with k, independently of jwx (stdlib crypto only).
func (k testKey) mint(t testing.TB, c map[string]any) string {
	t.Helper()
	return signJWT(t, k.header(), c, k.alg, k.priv)
}

// signJWT builds a compact JWS over hdr and payload, signing with alg and
// key; alg need not match hdr["alg"], which is how the attacks are built.
// key is a crypto.Signer, or []byte for HS256.
func signJWT(t testing.TB, hdr, payload map[string]any, alg string, key any) string {
	t.Helper()
	input := b64JSON(t, hdr) + "." + b64JSON(t, payload)
	return input + "." + base64.RawURLEncoding.EncodeToString(signBytes(t, alg, key, []byte(input)))
}

func b64JSON(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(data)
}

func signBytes(t testing.TB, alg string, key any, input []byte) []byte {
	t.Helper()
	h256 := sha256.Sum256(input)
	var sig []byte
	var err error
	switch alg {
	case "EdDSA":
		sig = ed25519.Sign(key.(ed25519.PrivateKey), input)
	case "ES256":
		sig, err = ecSign(key.(*ecdsa.PrivateKey), h256[:], 32)
	case "ES512":
		h := sha512.Sum512(input)
		sig, err = ecSign(key.(*ecdsa.PrivateKey), h[:], 66)
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, h256[:])
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, h256[:],
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "HS256":
		m := hmac.New(sha256.New, key.([]byte))
		m.Write(input)
		sig = m.Sum(nil)
	default:
		t.Fatalf("cannot sign %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// ecSign produces the JWS form of an ECDSA signature: r and s, each
// left-padded to size bytes.
func ecSign(k *ecdsa.PrivateKey, digest []byte, size int) ([]byte, error) {
	r, s, err := ecdsa.Sign(rand.Reader, k, digest)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out, nil
}

// fileVerifier builds a Verifier over a JWKS file holding jwks.
func fileVerifier(t testing.TB, jwks []byte, clock *fakeClock, edit func(*Config)) *Verifier {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwks, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{JWKSFile: path, Issuer: testIssuer, Audience: testAudience}
	if edit != nil {
		edit(&cfg)
	}
	v, err := newVerifier(context.Background(), cfg, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
