package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/todo"
)

// mintWithCLI runs `rowgate token` and returns the token it prints.
func mintWithCLI(t *testing.T, keyDir, sub, issuer, audience string, more ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args := append([]string{"token", "--sub", sub, "--key-dir", keyDir, "--issuer", issuer, "--audience", audience}, more...)
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("rowgate token: exit %d: %s", code, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// verifierFor verifies tokens against the key folder's public JWKS, the
// way serve does with AUTH_JWKS_FILE.
func verifierFor(t *testing.T, keyDir, issuer, audience string) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(context.Background(), auth.Config{
		JWKSFile: filepath.Join(keyDir, auth.DevJWKSFile), Issuer: issuer, Audience: audience,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// TestTokenVerifies: what `rowgate token` prints verifies against the JWKS
// file it names, for the subject and claims asked for, and only for the
// issuer and audience it was minted for.
func TestTokenVerifies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"token", "--sub", "user-x", "--email", "x@example.com", "--name", "X Y",
		"--ttl", "90s", "--key-dir", dir}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	token := strings.TrimSpace(stdout.String())
	if strings.Count(stdout.String(), "\n") != 1 || strings.Count(token, ".") != 2 {
		t.Fatalf("stdout is not one token on one line: %q", stdout.String())
	}
	jwks := filepath.Join(dir, auth.DevJWKSFile)
	if !strings.Contains(stderr.String(), "AUTH_JWKS_FILE="+jwks) {
		t.Errorf("stderr does not name the JWKS file: %q", stderr.String())
	}
	caller, err := verifierFor(t, dir, devIssuer, devAudience).Verify(context.Background(), token)
	if want := (todo.Caller{ID: "user-x", Email: "x@example.com", Name: "X Y"}); err != nil || caller != want {
		t.Fatalf("Verify = %+v, %v; want %+v", caller, err, want)
	}
	c := decodeClaims(t, token)
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 90 {
		t.Errorf("exp - iat = %v, want the 90s ttl", exp-iat)
	}
	if _, err := verifierFor(t, dir, "https://someone.else", devAudience).Verify(context.Background(), token); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("verified under another issuer: %v", err)
	}

	custom := mintWithCLI(t, dir, "user-y", "https://auth.example", "https://api.example")
	if _, err := verifierFor(t, dir, "https://auth.example", "https://api.example").Verify(context.Background(), custom); err != nil {
		t.Errorf("custom issuer and audience: %v", err)
	}
	if _, err := verifierFor(t, dir, devIssuer, devAudience).Verify(context.Background(), custom); err == nil {
		t.Error("a token for another audience verified as a dev token")
	}
	// The key persists: the first token still verifies after the second
	// run rewrote the JWKS.
	if _, err := verifierFor(t, dir, devIssuer, devAudience).Verify(context.Background(), token); err != nil {
		t.Errorf("the first token after a second run: %v", err)
	}
	if info, err := os.Stat(filepath.Join(dir, auth.DevPrivateKeyFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("private key file: %v, %v; want mode 0600", info, err)
	}
}

// TestTokenUsage: a missing or unusable --sub, a non-positive --ttl and bad
// flags are usage errors (exit 2) that print no token.
func TestTokenUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"ErrNoSub", nil, "--sub is required"},
		{"ErrEmptySub", []string{"--sub", ""}, "--sub is required"},
		{"ErrSubTooLong", []string{"--sub", strings.Repeat("s", 256)}, "--sub is required"},
		{"ErrZeroTTL", []string{"--sub", "x", "--ttl", "0s"}, "--ttl must be positive"},
		{"ErrNegativeTTL", []string{"--sub", "x", "--ttl", "-1m"}, "--ttl must be positive"},
		{"ErrBadTTL", []string{"--sub", "x", "--ttl", "soon"}, "invalid value"},
		{"ErrUnknownFlag", []string{"--sub", "x", "--kid", "y"}, "flag provided but not defined"},
		{"ErrStrayArgument", []string{"--sub", "x", "extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"token", "--key-dir", dir}, tt.args...), &stdout, &stderr)
			if code != 2 || stdout.Len() != 0 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, %q", code, stdout.String(), stderr.String(), tt.want)
			}
		})
	}
}

// decodeClaims returns a token's claims without verifying it.
func decodeClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", token)
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}
