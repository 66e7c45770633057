package tests

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// jwtAttack is a token the server must refuse, and how it is built.
type jwtAttack struct {
	name  string
	token func(t *testing.T, s *apiServer) string
	// expired marks the attacks the challenge calls expired.
	expired bool
}

// signedWith returns an attack signed by the development key, with the
// valid claims (for bob, who has todos) edited by edit.
func signedWith(edit func(h, c map[string]any)) func(t *testing.T, s *apiServer) string {
	return func(t *testing.T, s *apiServer) string {
		h, c := s.devHeader(), apiClaims(bob)
		edit(h, c)
		return s.signToken(t, h, c)
	}
}

// hmacToken signs header and claims with HS256 under secret.
func hmacToken(t *testing.T, h, c map[string]any, secret []byte) string {
	input := apiB64JSON(t, h) + "." + apiB64JSON(t, c)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func jwtAttacks() []jwtAttack {
	ago := func(d time.Duration) int64 { return time.Now().Add(-d).Unix() }
	in := func(d time.Duration) int64 { return time.Now().Add(d).Unix() }
	otherKey := func() ed25519.PrivateKey { _, k, _ := ed25519.GenerateKey(rand.Reader); return k }
	return []jwtAttack{
		{name: "AlgNone", token: func(t *testing.T, s *apiServer) string {
			return apiB64JSON(t, map[string]any{"alg": "none", "typ": "JWT"}) + "." + apiB64JSON(t, apiClaims(bob)) + "."
		}},
		{name: "AlgNoneWithKidAndJunkSignature", token: func(t *testing.T, s *apiServer) string {
			return apiB64JSON(t, map[string]any{"alg": "none", "kid": s.key.KeyID()}) + "." + apiB64JSON(t, apiClaims(bob)) + ".AAAA"
		}},
		{name: "AlgNoneCapitalised", token: func(t *testing.T, s *apiServer) string {
			return apiB64JSON(t, map[string]any{"alg": "None"}) + "." + apiB64JSON(t, apiClaims(bob)) + ".AAAA"
		}},
		{name: "HS256WithPublicKey", token: func(t *testing.T, s *apiServer) string {
			h := map[string]any{"alg": "HS256", "kid": s.key.KeyID()}
			return hmacToken(t, h, apiClaims(bob), s.priv.Public().(ed25519.PublicKey))
		}},
		{name: "HS256WithJWKSFile", token: func(t *testing.T, s *apiServer) string {
			jwks, err := os.ReadFile(s.key.JWKSPath())
			if err != nil {
				t.Fatal(err)
			}
			return hmacToken(t, map[string]any{"alg": "HS256", "kid": s.key.KeyID()}, apiClaims(bob), jwks)
		}},
		{name: "HS256WithPublicKeyBase64", token: func(t *testing.T, s *apiServer) string {
			x := base64.RawURLEncoding.EncodeToString(s.priv.Public().(ed25519.PublicKey))
			return hmacToken(t, map[string]any{"alg": "HS256"}, apiClaims(bob), []byte(x))
		}},
		{name: "ES256HeaderOnEdDSASignature", token: signedWith(func(h, c map[string]any) { h["alg"] = "ES256" })},
		{name: "Expired", expired: true, token: signedWith(func(h, c map[string]any) { c["iat"], c["exp"] = ago(2*time.Hour), ago(time.Hour) })},
		{name: "ExpiredBeyondSkew", expired: true, token: signedWith(func(h, c map[string]any) { c["exp"] = ago(time.Minute) })},
		{name: "NoExpiry", token: signedWith(func(h, c map[string]any) { delete(c, "exp") })},
		{name: "NotYetValid", token: signedWith(func(h, c map[string]any) { c["nbf"] = in(time.Hour) })},
		{name: "IssuedInTheFuture", token: signedWith(func(h, c map[string]any) { c["iat"] = in(time.Hour) })},
		{name: "WrongIssuer", token: signedWith(func(h, c map[string]any) { c["iss"] = "https://evil.test" })},
		{name: "IssuerIsTheAudience", token: signedWith(func(h, c map[string]any) { c["iss"] = apiAudience })},
		{name: "NoIssuer", token: signedWith(func(h, c map[string]any) { delete(c, "iss") })},
		{name: "WrongAudience", token: signedWith(func(h, c map[string]any) { c["aud"] = "https://other.test" })},
		{name: "AudienceListWithoutOurs", token: signedWith(func(h, c map[string]any) { c["aud"] = []string{"https://a.test", apiIssuer} })},
		{name: "NoAudience", token: signedWith(func(h, c map[string]any) { delete(c, "aud") })},
		{name: "UnknownKid", token: signedWith(func(h, c map[string]any) { h["kid"] = "no-such-key" })},
		{name: "UnknownKidOtherKey", token: func(t *testing.T, s *apiServer) string {
			return signEd(t, otherKey(), map[string]any{"alg": "EdDSA", "kid": "attacker"}, apiClaims(bob))
		}},
		{name: "OtherKeyOurKid", token: func(t *testing.T, s *apiServer) string {
			return signEd(t, otherKey(), s.devHeader(), apiClaims(bob))
		}},
		{name: "TamperedPayload", token: func(t *testing.T, s *apiServer) string {
			parts := strings.Split(s.tokenFor(t, alice), ".")
			return parts[0] + "." + apiB64JSON(t, apiClaims(bob)) + "." + parts[2]
		}},
		{name: "TamperedHeader", token: func(t *testing.T, s *apiServer) string {
			parts := strings.Split(s.tokenFor(t, bob), ".")
			h := s.devHeader()
			h["typ"] = "JWT"
			return apiB64JSON(t, h) + "." + parts[1] + "." + parts[2]
		}},
		{name: "SignatureOfAnotherToken", token: func(t *testing.T, s *apiServer) string {
			mine, theirs := strings.Split(s.tokenFor(t, alice), "."), strings.Split(s.tokenFor(t, bob), ".")
			return theirs[0] + "." + theirs[1] + "." + mine[2]
		}},
		{name: "SignatureFlipped", token: func(t *testing.T, s *apiServer) string {
			tok := []byte(s.tokenFor(t, bob))
			i := len(tok) - 10
			tok[i] = map[bool]byte{true: 'B', false: 'A'}[tok[i] == 'A']
			return string(tok)
		}},
		{name: "SignatureMissing", token: func(t *testing.T, s *apiServer) string {
			parts := strings.Split(s.tokenFor(t, bob), ".")
			return parts[0] + "." + parts[1]
		}},
		{name: "CriticalHeader", token: signedWith(func(h, c map[string]any) { h["crit"] = []string{"exp"} })},
		{name: "UnencodedPayloadHeader", token: signedWith(func(h, c map[string]any) { h["b64"] = false; h["crit"] = []string{"b64"} })},
		{name: "MissingSub", token: signedWith(func(h, c map[string]any) { delete(c, "sub") })},
		{name: "EmptySub", token: signedWith(func(h, c map[string]any) { c["sub"] = "" })},
		{name: "NumericSub", token: signedWith(func(h, c map[string]any) { c["sub"] = 42 })},
		{name: "SubWithControlCharacter", token: signedWith(func(h, c map[string]any) { c["sub"] = bob + "\n" })},
		{name: "SubTooLong", token: signedWith(func(h, c map[string]any) { c["sub"] = strings.Repeat("b", 256) })},
		{name: "NotAJWT", token: func(*testing.T, *apiServer) string { return "not-a-token" }},
		{name: "FiveSegments", token: func(t *testing.T, s *apiServer) string { return s.tokenFor(t, bob) + ".AAAA.AAAA" }},
		{name: "TooLarge", token: signedWith(func(h, c map[string]any) { c["pad"] = strings.Repeat("p", 9000) })},
	}
}

func signEd(t *testing.T, key ed25519.PrivateKey, h, c map[string]any) string {
	input := apiB64JSON(t, h) + "." + apiB64JSON(t, c)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(input)))
}

// TestAPIJWTAttacks sends each forged, expired or otherwise invalid token
// (all naming bob, who has todos) to a read and a write route: each must
// answer 401 with an invalid_token challenge and problem+json, read
// nothing, write nothing, provision nobody, and never log the token.
func TestAPIJWTAttacks(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	seedAPI(t, s)

	t.Run("Control", func(t *testing.T) {
		// The same claims, correctly signed, are accepted: each attack
		// differs from a working token only in what it attacks.
		tok := s.signToken(t, s.devHeader(), apiClaims(bob))
		if resp := s.do(t, apiRequest{method: "GET", path: "/v1/todos", bearer: tok}); resp.Status != 200 {
			t.Fatalf("a valid hand-signed token: %d %s", resp.Status, resp.Body)
		}
	})
	for _, a := range jwtAttacks() {
		t.Run(a.name, func(t *testing.T) {
			tok := a.token(t, s)
			before := s.snapshot(t)
			for _, r := range []apiRequest{
				{method: "GET", path: "/v1/todos", bearer: tok},
				{method: "GET", path: "/v1/todos/" + bobTodo, bearer: tok},
				{method: "GET", path: "/v1/me", bearer: tok},
				{method: "POST", path: "/v1/todos", bearer: tok, body: `{"title":"forged"}`},
				{method: "DELETE", path: "/v1/todos/" + bobTodo, bearer: tok},
			} {
				resp := s.do(t, r)
				checkInvalidToken(t, r.method+" "+r.path, resp, a.expired)
			}
			if after := s.snapshot(t); after != before {
				t.Errorf("the database changed:\nbefore %s\nafter  %s", before, after)
			}
			if sig := tok[strings.LastIndex(tok, ".")+1:]; len(sig) > 8 && strings.Contains(s.Logs.String(), sig) {
				t.Error("the logs contain the token")
			}
		})
	}
}

func checkInvalidToken(t *testing.T, what string, resp apiResponse, expired bool) {
	t.Helper()
	if resp.Status != http.StatusUnauthorized {
		t.Fatalf("%s: %d %s, want 401", what, resp.Status, clipBody(resp.Body))
	}
	const challenge = `Bearer realm="rowgate", error="invalid_token", error_description=`
	desc := `"the access token is invalid"`
	if expired {
		desc = `"the access token expired"`
	}
	if got := resp.Header.Get("WWW-Authenticate"); got != challenge+desc {
		t.Errorf("%s: WWW-Authenticate %q, want %q", what, got, challenge+desc)
	}
	if p := resp.problem(t); p.Code != "invalid_token" {
		t.Errorf("%s: problem code %q, want invalid_token", what, p.Code)
	}
}

// TestAPIAuthorizationHeader covers how the token travels: no header and
// other schemes are a missing token (a bare challenge), a malformed bearer
// header is an invalid one, and the scheme is case-insensitive.
func TestAPIAuthorizationHeader(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	seedAPI(t, s)
	good := s.tokenFor(t, bob)
	tests := []struct {
		name       string
		values     []string
		wantStatus int
		wantCode   string
	}{
		{"Success", []string{"Bearer " + good}, 200, ""},
		{"SuccessLowercaseScheme", []string{"bearer " + good}, 200, ""},
		{"ErrMissingHeader", nil, 401, codeMissingToken},
		{"ErrEmptyHeader", []string{""}, 401, codeMissingToken},
		{"ErrBasicScheme", []string{"Basic Ym9iOmJvYg=="}, 401, codeMissingToken},
		{"ErrTokenWithoutScheme", []string{good}, 401, codeMissingToken},
		{"ErrSchemeOnly", []string{"Bearer"}, 401, "invalid_token"},
		{"ErrTwoTokens", []string{"Bearer " + good + " " + good}, 401, "invalid_token"},
		{"ErrTwoHeaders", []string{"Bearer " + good, "Bearer " + good}, 401, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.snapshot(t)
			resp := s.do(t, apiRequest{method: "GET", path: "/v1/todos", extra: http.Header{"Authorization": tt.values}})
			if resp.Status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.Status, tt.wantStatus, resp.Body)
			}
			if tt.wantCode == "" {
				return
			}
			if code := resp.problem(t).Code; code != tt.wantCode {
				t.Errorf("code %q, want %q", code, tt.wantCode)
			}
			challenge := resp.Header.Get("WWW-Authenticate")
			switch tt.wantCode {
			case codeMissingToken:
				if challenge != `Bearer realm="rowgate"` {
					t.Errorf("WWW-Authenticate %q, want a bare Bearer challenge", challenge)
				}
			default:
				if !strings.HasPrefix(challenge, `Bearer realm="rowgate", error="invalid_token"`) {
					t.Errorf("WWW-Authenticate %q, want an invalid_token challenge", challenge)
				}
			}
			if after := s.snapshot(t); after != before {
				t.Error("the database changed")
			}
		})
	}
}
