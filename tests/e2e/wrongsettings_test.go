//go:build e2e

package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestWrongSettingsFail shows that the end-to-end flow can fail: a real
// Better Auth token that a correctly wired rowgate accepts (Control) is
// refused when rowgate's issuer, audience or JWKS URL is wrong. "other" is
// a second Better Auth instance: same software, different base URL and keys.
func TestWrongSettingsFail(t *testing.T) {
	t.Parallel()
	ba := startBetterAuth(t, "ba_wrong")
	other := startBetterAuth(t, "ba_other")
	dave := ba.signUp(t, "dave.wrong@example.com", "Dave")

	for _, tc := range []struct {
		name       string
		settings   authSettings
		ready      bool   // /readyz turns 200
		wantStatus int    // GET /v1/me with dave's token
		wantCode   string // problem+json code
		wantReason string // rowgate's debug log line, for a 401
	}{
		{"Control", wiredTo(ba), true, http.StatusOK, "", ""},
		{"WrongIssuer", authSettings{ba.jwksURL(), other.base, ba.base},
			true, http.StatusUnauthorized, "invalid_token", "issuer mismatch"},
		{"IssuerWithTrailingSlash", authSettings{ba.jwksURL(), ba.base + "/", ba.base},
			true, http.StatusUnauthorized, "invalid_token", "issuer mismatch"},
		{"WrongAudience", authSettings{ba.jwksURL(), ba.base, other.base},
			true, http.StatusUnauthorized, "invalid_token", "audience mismatch"},
		{"JWKSOfAnotherBetterAuth", authSettings{other.jwksURL(), ba.base, ba.base},
			true, http.StatusUnauthorized, "invalid_token", "no key with the token's kid"},
		// Better Auth answers 404 there: rowgate starts, never becomes
		// ready, and answers 503 rather than guess.
		{"WrongJWKSPath", authSettings{ba.base + "/api/auth/.well-known/jwks.json", ba.base, ba.base},
			false, http.StatusServiceUnavailable, "auth_unavailable", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rg := startRowgate(t, tc.settings, tc.ready)
			if !tc.ready {
				if res := send(t, http.MethodGet, rg.base+"/readyz", nil, nil); res.status != http.StatusServiceUnavailable {
					t.Errorf("/readyz: %d %s, want 503", res.status, res.body)
				}
			}
			res := rg.me(t, dave.token)
			if res.status != tc.wantStatus || res.problemCode() != tc.wantCode {
				t.Fatalf("GET /v1/me: %d %s, want %d %q", res.status, res.body, tc.wantStatus, tc.wantCode)
			}
			if tc.wantStatus == http.StatusUnauthorized {
				if h := res.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
					t.Errorf("WWW-Authenticate: %q, want error=\"invalid_token\"", h)
				}
				rg.rejectedBecause(t, tc.wantReason)
			}
		})
	}
}
