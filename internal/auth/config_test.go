package auth

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewVerifierRejectsConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(good, jwksJSON(t, newTestKey(t, "EdDSA", "ed")), 0o644); err != nil {
		t.Fatal(err)
	}
	unusable := filepath.Join(dir, "hmac.json")
	if err := os.WriteFile(unusable, []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	base := Config{JWKSFile: good, Issuer: testIssuer, Audience: testAudience}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"ErrNoKeySource", func(c *Config) { c.JWKSFile = "" }, "exactly one"},
		{"ErrTwoKeySources", func(c *Config) { c.JWKSURL = "https://app.example/api/auth/jwks" }, "exactly one"},
		{"ErrNoIssuer", func(c *Config) { c.Issuer = "" }, "Issuer is required"},
		{"ErrNoAudience", func(c *Config) { c.Audience = "" }, "Audience is required"},
		{"ErrNegativeSkew", func(c *Config) { c.Skew = -time.Second }, "Skew"},
		{"ErrHugeSkew", func(c *Config) { c.Skew = time.Hour }, "Skew"},
		{"ErrNegativeRefresh", func(c *Config) { c.MinRefreshInterval = -1 }, "negative"},
		{"ErrNegativeFetchTimeout", func(c *Config) { c.FetchTimeout = -1 }, "negative"},
		{"ErrNegativeRefreshWait", func(c *Config) { c.RefreshWait = -1 }, "negative"},
		{"ErrNegativeMaxRetry", func(c *Config) { c.MaxRetryInterval = -1 }, "negative"},
		{"ErrRelativeURL", func(c *Config) { c.JWKSFile, c.JWKSURL = "", "/api/auth/jwks" }, "absolute"},
		{"ErrFileURLScheme", func(c *Config) { c.JWKSFile, c.JWKSURL = "", "file:///etc/jwks" }, "absolute"},
		{"ErrMissingFile", func(c *Config) { c.JWKSFile = filepath.Join(dir, "nope.json") }, "open JWKS file"},
		{"ErrFileWithoutUsableKey", func(c *Config) { c.JWKSFile = unusable }, "no usable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := base
			tt.edit(&cfg)
			v, err := NewVerifier(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
			if v != nil {
				t.Fatal("got a Verifier along with the error")
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := Config{JWKSURL: "http://localhost:3000/api/auth/jwks", AllowAnyIssuer: true, AllowAnyAudience: true}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Skew != DefaultSkew || c.MinRefreshInterval != DefaultMinRefreshInterval ||
		c.RefreshInterval != DefaultRefreshInterval || c.CacheSize != DefaultCacheSize ||
		c.FetchTimeout != DefaultFetchTimeout || c.RefreshWait != DefaultRefreshWait ||
		c.MaxRetryInterval != DefaultMaxRetryInterval ||
		c.HTTPClient == nil || c.HTTPClient.Timeout != DefaultFetchTimeout || c.Logger == nil {
		t.Fatalf("defaults not applied: %+v", c)
	}
	c, err = Config{JWKSFile: "x", Issuer: "i", Audience: "a", MinRefreshInterval: time.Hour}.withDefaults()
	if err != nil || c.RefreshInterval != time.Hour || c.MaxRetryInterval != time.Hour {
		t.Fatalf("RefreshInterval = %v, MaxRetryInterval = %v (err %v), want both raised to MinRefreshInterval",
			c.RefreshInterval, c.MaxRetryInterval, err)
	}
	c, err = Config{JWKSFile: "x", Issuer: "i", Audience: "a", FetchTimeout: time.Second, RefreshWait: time.Minute}.withDefaults()
	if err != nil || c.RefreshWait != time.Second {
		t.Fatalf("RefreshWait = %v (err %v), want lowered to FetchTimeout", c.RefreshWait, err)
	}
}
