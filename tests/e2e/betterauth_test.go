//go:build e2e

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sessionCookie is Better Auth's session cookie with an http base URL.
const sessionCookie = "better-auth.session_token"

// betterAuth is a running examples/better-auth/server.mjs.
type betterAuth struct {
	base string // base URL: also the JWT iss and aud
	proc *proc
}

var readyLine = regexp.MustCompile(`^better-auth listening on (http://127\.0\.0\.1:\d+)$`)

// startBetterAuth starts Better Auth on a free port with its tables in
// schema, which must be new so that its first signing key is minted with
// the JWT_ALG in extraEnv (default EdDSA).
func startBetterAuth(t *testing.T, schema string, extraEnv ...string) *betterAuth {
	t.Helper()
	vars := append([]string{
		"DATABASE_URL=" + env.ownerURL,
		"PORT=0",
		"BETTER_AUTH_SCHEMA=" + schema,
		"BETTER_AUTH_LOG_LEVEL=info",
	}, extraEnv...)
	server := filepath.Join(env.root, "examples", "better-auth", "server.mjs")
	p := startProc(t, "better-auth "+schema, childEnv(vars...), "node", server)
	m, err := p.waitLine(readyLine, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return &betterAuth{base: m[1], proc: p}
}

// jwksURL is where Better Auth publishes its public keys.
func (ba *betterAuth) jwksURL() string { return ba.base + "/api/auth/jwks" }

// user is someone who signed up through Better Auth.
type user struct {
	id, email, name string
	cookie          *http.Cookie // the session, to ask for more JWTs
	token           string       // a JWT from GET /api/auth/token
}

// signUp creates a user with email and password and fetches a first JWT.
func (ba *betterAuth) signUp(t *testing.T, email, name string) user {
	t.Helper()
	body := map[string]string{"email": email, "password": "correct-horse-battery", "name": name}
	res := send(t, http.MethodPost, ba.base+"/api/auth/sign-up/email", body, ba.headers())
	if res.status != http.StatusOK {
		t.Fatalf("sign-up %s: %d %s", email, res.status, res.body)
	}
	var out struct {
		User struct{ ID, Email, Name string } `json:"user"`
	}
	res.decode(t, &out)
	u := user{id: out.User.ID, email: out.User.Email, name: out.User.Name}
	for _, c := range res.cookies {
		if c.Name == sessionCookie {
			u.cookie = c
		}
	}
	if u.id == "" || u.cookie == nil {
		t.Fatalf("sign-up %s: no user id or no %s cookie: %s", email, sessionCookie, res.body)
	}
	u.token = ba.token(t, u)
	return u
}

// token exchanges u's session cookie for a fresh JWT. Better Auth signs it
// with its newest live key, minting one first if the newest has expired.
func (ba *betterAuth) token(t *testing.T, u user) string {
	t.Helper()
	h := ba.headers()
	h.Set("Cookie", (&http.Cookie{Name: u.cookie.Name, Value: u.cookie.Value}).String())
	res := send(t, http.MethodGet, ba.base+"/api/auth/token", nil, h)
	if res.status != http.StatusOK {
		t.Fatalf("GET /api/auth/token for %s: %d %s", u.email, res.status, res.body)
	}
	var out struct{ Token string }
	res.decode(t, &out)
	if strings.Count(out.Token, ".") != 2 {
		t.Fatalf("GET /api/auth/token: not a JWT: %s", res.body)
	}
	return out.Token
}

// headers carries the Origin Better Auth trusts (its own base URL).
func (ba *betterAuth) headers() http.Header {
	return http.Header{"Origin": {ba.base}}
}

// jwk is the part of a JWKS key the tests look at.
type jwk struct {
	KID string `json:"kid"`
	Alg string `json:"alg"`
	Kty string `json:"kty"`
	Crv string `json:"crv"`
}

// jwks returns the keys Better Auth publishes now.
func (ba *betterAuth) jwks(t *testing.T) []jwk {
	t.Helper()
	res := send(t, http.MethodGet, ba.jwksURL(), nil, nil)
	if res.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", ba.jwksURL(), res.status, res.body)
	}
	var out struct{ Keys []jwk }
	res.decode(t, &out)
	return out.Keys
}

// jwtParts decodes a JWT's header and claims without verifying it: the
// tests only look at what Better Auth put there.
type jwtParts struct {
	Header struct {
		Alg string `json:"alg"`
		KID string `json:"kid"`
		Typ string `json:"typ"`
	}
	Claims struct {
		Sub   string `json:"sub"`
		Iss   string `json:"iss"`
		Aud   any    `json:"aud"`
		Email string `json:"email"`
		Name  string `json:"name"`
		Iat   int64  `json:"iat"`
		Exp   int64  `json:"exp"`
	}
}

func decodeJWT(t *testing.T, token string) jwtParts {
	t.Helper()
	var p jwtParts
	parts := strings.Split(token, ".")
	for i, dst := range []any{&p.Header, &p.Claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("JWT segment %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("JWT segment %d: %v: %s", i, err, raw)
		}
	}
	return p
}
