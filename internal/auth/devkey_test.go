package auth

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/rowgate/rowgate/internal/todo"
)

func TestLoadOrCreateDevKey(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "dev")
	k, err := LoadOrCreateDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("FileModes", func(t *testing.T) {
		for name, want := range map[string]os.FileMode{DevPrivateKeyFile: 0o600, DevJWKSFile: 0o644} {
			info, err := os.Stat(filepath.Join(dir, name))
			if err != nil || info.Mode().Perm() != want {
				t.Fatalf("%s: mode %v (err %v), want %v", name, info.Mode().Perm(), err, want)
			}
		}
	})
	t.Run("KidIsThumbprintOfPublishedKey", func(t *testing.T) {
		data, err := os.ReadFile(k.JWKSPath())
		if err != nil {
			t.Fatal(err)
		}
		set, err := jwk.Parse(data)
		if err != nil || set.Len() != 1 {
			t.Fatalf("JWKS: %d keys, err %v", set.Len(), err)
		}
		key, _ := set.Key(0)
		sum, err := key.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if want := base64.RawURLEncoding.EncodeToString(sum); k.KeyID() != want || key.KeyID() != want {
			t.Fatalf("kid = %q, published kid = %q, thumbprint = %q", k.KeyID(), key.KeyID(), want)
		}
		if _, ok := key.Get("d"); ok {
			t.Fatal("public JWKS contains the private key")
		}
	})
	t.Run("ReusesExistingKey", func(t *testing.T) {
		again, err := LoadOrCreateDevKey(dir)
		if err != nil {
			t.Fatal(err)
		}
		if again.KeyID() != k.KeyID() || !again.priv.Equal(k.priv) {
			t.Fatal("second load made a new key")
		}
	})
	t.Run("MintedTokenVerifies", func(t *testing.T) {
		v, err := NewVerifier(context.Background(), Config{JWKSFile: k.JWKSPath(), Issuer: testIssuer, Audience: testAudience})
		if err != nil {
			t.Fatal(err)
		}
		want := todo.Caller{ID: "user-1", Email: "ada@example.com", Name: "Ada"}
		token, err := k.Mint(want, testIssuer, testAudience, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.Verify(context.Background(), token)
		if err != nil || got != want {
			t.Fatalf("Verify = %+v, %v; want %+v", got, err, want)
		}
	})
	t.Run("HeaderLikeBetterAuth", func(t *testing.T) {
		token, err := k.Mint(todo.Caller{ID: "u"}, testIssuer, testAudience, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
		if err != nil {
			t.Fatal(err)
		}
		var hdr map[string]any
		if err := json.Unmarshal(raw, &hdr); err != nil {
			t.Fatal(err)
		}
		if len(hdr) != 2 || hdr["alg"] != "EdDSA" || hdr["kid"] != k.KeyID() {
			t.Fatalf("header = %v, want exactly alg EdDSA and kid", hdr)
		}
	})
}

func TestLoadOrCreateDevKeyRefusesReadablePrivateKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := LoadOrCreateDevKey(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, DevPrivateKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateDevKey(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("err = %v, want a refusal", err)
	}
}

func TestMintRejects(t *testing.T) {
	t.Parallel()
	k, err := LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		caller todo.Caller
		ttl    time.Duration
	}{
		{"ErrEmptyID", todo.Caller{}, time.Minute},
		{"ErrLongID", todo.Caller{ID: strings.Repeat("x", todo.MaxUserIDLen+1)}, time.Minute},
		{"ErrZeroTTL", todo.Caller{ID: "u"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if token, err := k.Mint(tt.caller, testIssuer, testAudience, tt.ttl); err == nil {
				t.Fatalf("minted %d-byte token, want an error", len(token))
			}
		})
	}
}
