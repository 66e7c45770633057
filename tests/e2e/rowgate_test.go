//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"
)

// authSettings are rowgate's three Better Auth settings.
type authSettings struct {
	JWKSURL, Issuer, Audience string
}

// wiredTo returns the settings docs/better-auth.md prescribes: the JWKS
// under /api/auth/jwks, and issuer and audience both the base URL.
func wiredTo(ba *betterAuth) authSettings {
	return authSettings{JWKSURL: ba.jwksURL(), Issuer: ba.base, Audience: ba.base}
}

// rowgate is a running `rowgate serve`.
type rowgate struct {
	base string
	proc *proc
}

var listeningLine = regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)

// startRowgate runs `rowgate serve` as rowgate_app on a free port and waits
// until /readyz answers 200 (when ready) or /healthz does (when not: the
// JWKS is expected never to load). extra adds settings (NAME=value), such
// as CORS_ALLOWED_ORIGINS.
func startRowgate(t *testing.T, s authSettings, ready bool, extra ...string) *rowgate {
	t.Helper()
	vars := childEnv(append([]string{
		"DATABASE_URL=" + env.appURL,
		"LISTEN_ADDR=127.0.0.1:0",
		"AUTH_JWKS_URL=" + s.JWKSURL,
		"AUTH_ISSUER=" + s.Issuer,
		"AUTH_AUDIENCE=" + s.Audience,
		"LOG_FORMAT=text",
		"LOG_LEVEL=debug", // logs why a token was rejected
	}, extra...)...)
	p := startProc(t, "rowgate serve", vars, env.rowgateBin, "serve")
	m, err := p.waitLine(listeningLine, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rg := &rowgate{base: "http://" + m[1], proc: p}
	path := "/healthz"
	if ready {
		path = "/readyz"
	}
	rg.waitOK(t, path, 30*time.Second)
	return rg
}

// waitOK polls path until it answers 200.
func (rg *rowgate) waitOK(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		res := send(t, http.MethodGet, rg.base+path, nil, nil)
		if res.status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rowgate %s: %d %s after %s", path, res.status, res.body, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// call sends an API request with token as the bearer token.
func (rg *rowgate) call(t *testing.T, token, method, path string, body any) reply {
	t.Helper()
	return send(t, method, rg.base+path, body, http.Header{"Authorization": {"Bearer " + token}})
}

// rejectedBecause waits briefly for rowgate's debug line saying why it
// rejected a token (the auth package's fixed reason texts).
func (rg *rowgate) rejectedBecause(t *testing.T, reason string) {
	t.Helper()
	re := regexp.MustCompile(`msg="auth: token rejected".*reason="` + regexp.QuoteMeta(reason) + `"`)
	if _, err := rg.proc.waitLine(re, 5*time.Second); err != nil {
		t.Errorf("rowgate did not log the rejection reason %q: %v", reason, err)
	}
}

// todoJSON is a todo as the API returns it.
type todoJSON struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	Title  string `json:"title"`
}

func (rg *rowgate) createTodo(t *testing.T, u user, title string) todoJSON {
	t.Helper()
	res := rg.call(t, u.token, http.MethodPost, "/v1/todos", map[string]any{"title": title})
	if res.status != http.StatusCreated {
		t.Fatalf("%s: POST /v1/todos: %d %s", u.email, res.status, res.body)
	}
	var td todoJSON
	res.decode(t, &td)
	if td.UserID != u.id {
		t.Fatalf("%s: new todo has user_id %q, want the JWT's sub %q", u.email, td.UserID, u.id)
	}
	return td
}

func (rg *rowgate) listTodos(t *testing.T, u user) []todoJSON {
	t.Helper()
	res := rg.call(t, u.token, http.MethodGet, "/v1/todos?limit=100", nil)
	if res.status != http.StatusOK {
		t.Fatalf("%s: GET /v1/todos: %d %s", u.email, res.status, res.body)
	}
	var page struct{ Items []todoJSON }
	res.decode(t, &page)
	return page.Items
}

// meJSON is GET /v1/me's body.
type meJSON struct {
	ID    string  `json:"id"`
	Email *string `json:"email"`
	Name  *string `json:"name"`
}

func (rg *rowgate) me(t *testing.T, token string) reply {
	t.Helper()
	return rg.call(t, token, http.MethodGet, "/v1/me", nil)
}

func (m meJSON) String() string {
	deref := func(s *string) string {
		if s == nil {
			return "null"
		}
		return fmt.Sprintf("%q", *s)
	}
	return fmt.Sprintf("{id:%q email:%s name:%s}", m.ID, deref(m.Email), deref(m.Name))
}
