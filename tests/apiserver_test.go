package tests

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/rowgate/rowgate/internal/app"
	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/httpapi"
	"github.com/rowgate/rowgate/internal/pgtest"
	"github.com/rowgate/rowgate/internal/postgres"
	"github.com/rowgate/rowgate/internal/todo"
)

// The issuer and audience every API test server checks. They differ, so a
// token that swaps them fails both checks.
const (
	apiIssuer   = "https://auth.test"
	apiAudience = "https://api.test"
)

// More fixture todos, next to aliceTodo and bobTodo: each user also has a
// completed one.
const (
	aliceDone = "00000000-0000-4000-8000-0000000000ad"
	bobDone   = "00000000-0000-4000-8000-0000000000bd"
	// noSuchTodo is a well-formed id no row has.
	noSuchTodo = "00000000-0000-4000-8000-00000000dead"
)

// apiServer is the real API (Echo, auth middleware, pgx stores) served over
// TCP on 127.0.0.1, against the test's own migrated database as
// rowgate_app, verifying tokens signed by a development key.
type apiServer struct {
	URL   string
	DB    *pgtest.DB
	Store *postgres.DB
	// Admin is a superuser pool on the same database, for fixtures and for
	// reading state behind row level security's back.
	Admin *pgxpool.Pool
	Logs  *apiLogBuffer

	key    *auth.DevKey
	priv   ed25519.PrivateKey
	client *http.Client
}

// apiConfig is what a test may change before the server starts.
type apiConfig struct {
	app app.Config
	// http, when set, serves through httpapi.NewHTTPServer with these
	// options (as Run does) instead of httptest's bare http.Server.
	http *httpapi.HTTPServerOptions
}

// newAPIServer starts the API for t, built by internal/app exactly as
// `rowgate serve` builds it (with a JSON logger writing into s.Logs), and
// stops it when t ends. It returns once the database door is open.
func newAPIServer(t testing.TB, opts ...func(*apiConfig)) *apiServer {
	t.Helper()
	ctx := context.Background()
	tdb := pgtest.NewDB(t)
	s := &apiServer{DB: tdb, Logs: &apiLogBuffer{}}
	log := slog.New(slog.NewJSONHandler(s.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	var err error
	if s.key, err = auth.LoadOrCreateDevKey(dir); err != nil {
		t.Fatal(err)
	}
	s.priv = readDevPrivateKey(t, dir)
	cfg := apiConfig{app: app.Config{
		DatabaseURL: tdb.URL(pgtest.App), JWKSFile: s.key.JWKSPath(), Issuer: apiIssuer, Audience: apiAudience,
	}}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := app.New(ctx, cfg.app, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if err := a.DB().WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	s.Store = a.DB()
	ts := httptest.NewUnstartedServer(a.Handler())
	if cfg.http != nil {
		ts.Config = httpapi.NewHTTPServer(ts.Config.Handler, *cfg.http)
	}
	ts.Start()
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	s.client = ts.Client()
	s.client.Timeout = 30 * time.Second
	s.Admin = tdb.Pool(t, tdb.Superuser())
	return s
}

// readDevPrivateKey reads the development key's private half, so tests can
// sign tokens Mint would never make (expired, wrong claims...).
func readDevPrivateKey(t testing.TB, dir string) ed25519.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, auth.DevPrivateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.ParseKey(data)
	if err != nil {
		t.Fatal(err)
	}
	var priv ed25519.PrivateKey
	if err := key.Raw(&priv); err != nil {
		t.Fatal(err)
	}
	return priv
}

// tokenFor mints a valid token for user id, with email and name claims.
func (s *apiServer) tokenFor(t testing.TB, id string) string {
	t.Helper()
	tok, err := s.key.Mint(todo.Caller{ID: id, Email: apiEmailOf(id), Name: apiNameOf(id)}, apiIssuer, apiAudience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func apiEmailOf(id string) string { return strings.TrimRight(id[:5], "0") + "@example.com" }
func apiNameOf(id string) string  { return "Name of " + strings.TrimRight(id[:5], "0") }

// apiClaims are the claims of a token the server accepts, for tests that
// then break one of them.
func apiClaims(sub string) map[string]any {
	now := time.Now()
	return map[string]any{
		"sub": sub, "iss": apiIssuer, "aud": apiAudience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// signToken signs header and claims with the development key (EdDSA) as a
// compact JWS, whatever they say.
func (s *apiServer) signToken(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	input := apiB64JSON(t, header) + "." + apiB64JSON(t, claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(s.priv, []byte(input)))
}

// devHeader is the protected header Mint writes.
func (s *apiServer) devHeader() map[string]any {
	return map[string]any{"alg": "EdDSA", "kid": s.key.KeyID()}
}

func apiB64JSON(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(data)
}

// seedAPI creates alice and bob, each with an open and a completed todo, as
// the superuser. created_at is spread out so the list order is known:
// newest first, aliceTodo before aliceDone.
func seedAPI(t testing.TB, s *apiServer) {
	t.Helper()
	s.exec(t, `insert into users (id, email, name) values ($1, 'alice@example.com', 'Alice'), ($2, 'bob@example.com', 'Bob')`, alice, bob)
	s.exec(t, `insert into todos (id, user_id, title, description, completed, created_at, updated_at) values
		($1, $2, 'alice''s todo', 'hers', false, now() - interval '1 hour', now() - interval '1 hour'),
		($3, $2, 'alice''s done todo', null, true, now() - interval '2 hours', now() - interval '2 hours'),
		($4, $5, 'bob''s todo', 'his', false, now() - interval '1 hour', now() - interval '1 hour'),
		($6, $5, 'bob''s done todo', null, true, now() - interval '2 hours', now() - interval '2 hours')`,
		aliceTodo, alice, aliceDone, bobTodo, bob, bobDone)
}

// exec runs sql as the superuser.
func (s *apiServer) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := s.Admin.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// snapshot is every users and todos row, read as the superuser: two equal
// snapshots mean nothing changed.
func (s *apiServer) snapshot(t testing.TB) string {
	t.Helper()
	const q = `
select (select coalesce(json_agg(u order by u.id), '[]')
        from (select id, email, name, created_at, updated_at from users) u)::text
    || (select coalesce(json_agg(x order by x.id), '[]')
        from (select id, user_id, organization_id, title, description, completed, created_at, updated_at from todos) x)::text`
	var snap string
	if err := s.Admin.QueryRow(context.Background(), q).Scan(&snap); err != nil {
		t.Fatal(err)
	}
	return snap
}

// rowsOf returns user's todos as the superuser sees them, as JSON.
func (s *apiServer) rowsOf(t testing.TB, user string) string {
	t.Helper()
	const q = `
select coalesce(json_agg(x order by x.id), '[]')::text
from (select id, user_id, organization_id, title, description, completed, created_at, updated_at from todos where user_id = $1) x`
	var rows string
	if err := s.Admin.QueryRow(context.Background(), q, user).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// count runs a count(*) query as the superuser.
func (s *apiServer) count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Admin.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// apiRequest is one HTTP call. as names the caller whose token is sent; bearer,
// when set, is sent instead (and the caller is unknown).
type apiRequest struct {
	method, path string
	as           string
	bearer       string
	body         string
	// contentType defaults to application/json when body is set; noContentType
	// sends none.
	contentType string
	header      map[string]string
	// extra headers are added after everything else, so a test can send
	// a header twice.
	extra http.Header
	// allow503 accepts a 503 (timeouts, readiness); any other 5xx fails
	// unless allow5xx (a server-side failure the test provokes).
	allow503, allow5xx bool
}

const noContentType = "-"

// apiResponse is what came back.
type apiResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends r and checks what every response of the API must satisfy (see
// checkAPIResponse).
func (s *apiServer) do(t testing.TB, r apiRequest) apiResponse {
	t.Helper()
	resp, err := s.try(t, r)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// try is do for goroutines other than the test's: it returns a transport
// error instead of failing t (the response checks only call t.Errorf).
func (s *apiServer) try(t testing.TB, r apiRequest) (apiResponse, error) {
	t.Helper()
	req, err := s.newRequest(t, r)
	if err != nil {
		return apiResponse{}, err
	}
	return s.send(t, req, r)
}

func (s *apiServer) newRequest(t testing.TB, r apiRequest) (*http.Request, error) {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, s.URL+r.path, body)
	if err != nil {
		return nil, err
	}
	switch {
	case r.contentType == noContentType:
	case r.contentType != "":
		req.Header.Set("Content-Type", r.contentType)
	case r.body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case r.bearer != "":
		req.Header.Set("Authorization", "Bearer "+r.bearer)
	case r.as != "":
		req.Header.Set("Authorization", "Bearer "+s.tokenFor(t, r.as))
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	for k, vs := range r.extra {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req, nil
}

// send sends req (built from r) and checks the response.
func (s *apiServer) send(t testing.TB, req *http.Request, r apiRequest) (apiResponse, error) {
	t.Helper()
	res, err := s.client.Do(req)
	if err != nil {
		return apiResponse{}, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return apiResponse{}, fmt.Errorf("%s %s: read body: %w", req.Method, req.URL.Path, err)
	}
	resp := apiResponse{Status: res.StatusCode, Header: res.Header, Body: data}
	checkAPIResponse(t, req, r, resp, s.memberOf)
	return resp, nil
}

// apiLeakMarkers are strings that would mean a response carries a database
// message, a driver error or a stack trace.
var apiLeakMarkers = []string{
	"SQLSTATE", "pq:", "ERROR:", "goroutine ", "pgx", "pgconn", "violates",
	"panic", "runtime error", ".go:", "duplicate key", "syntax error at", "row-level security",
}

// checkAPIResponse asserts what holds for every response of the API:
//   - it carries X-Request-Id (the client's own when it sent a sane one);
//   - no 500, and no other 5xx unless the request allows a 503;
//   - no database message or stack trace in the body;
//   - an error is application/problem+json whose status and request_id
//     match the response;
//   - a todo or user in a successful answer is the caller's: their user,
//     their personal todo, or a todo of an organization they are a
//     member of (memberOf, asked of the database).
func checkAPIResponse(t testing.TB, req *http.Request, r apiRequest, resp apiResponse, memberOf func(org, user string) bool) {
	t.Helper()
	what := req.Method + " " + req.URL.RequestURI()
	id := resp.Header.Get("X-Request-Id")
	if id == "" {
		t.Errorf("%s: response has no X-Request-Id", what)
	}
	if sent := req.Header.Get("X-Request-Id"); sent != "" && apiSaneRequestID(sent) && id != sent {
		t.Errorf("%s: X-Request-Id = %q, want the client's %q", what, id, sent)
	}
	if resp.Status >= 500 && !r.allow5xx && !(resp.Status == http.StatusServiceUnavailable && r.allow503) {
		t.Errorf("%s: status %d, body %s", what, resp.Status, resp.Body)
	}
	if req.URL.Path != "/metrics" { // Prometheus help text is not ours to police
		for _, m := range apiLeakMarkers {
			if bytes.Contains(resp.Body, []byte(m)) {
				t.Errorf("%s: body contains %q: %s", what, m, clipBody(resp.Body))
			}
		}
	}
	if resp.Status >= 400 {
		checkAPIProblem(t, req.Method, what, resp, id)
	}
	if resp.Status < 300 && r.as != "" && r.bearer == "" {
		checkAPIOwnership(t, what, resp.Body, r.as, memberOf)
	}
}

func checkAPIProblem(t testing.TB, method, what string, resp apiResponse, id string) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: status %d with Content-Type %q, want application/problem+json", what, resp.Status, ct)
	}
	if method == http.MethodHead {
		return // no body to check
	}
	var p apiProblem
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Errorf("%s: problem body %s: %v", what, clipBody(resp.Body), err)
		return
	}
	if p.Status != resp.Status || p.Code == "" || p.Type != "about:blank" || p.Title != http.StatusText(resp.Status) {
		t.Errorf("%s: status %d with problem %+v", what, resp.Status, p)
	}
	if p.RequestID != id {
		t.Errorf("%s: problem request_id %q, header X-Request-Id %q", what, p.RequestID, id)
	}
}

// checkAPIOwnership walks a JSON body: every object with a user_id must be
// the caller's, and /v1/me's id must be the caller.
func checkAPIOwnership(t testing.TB, what string, body []byte, caller string, memberOf func(org, user string) bool) {
	t.Helper()
	var v any
	if json.Unmarshal(body, &v) != nil {
		return
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			owner, isTodo := v["user_id"]
			org, _ := v["organization_id"].(string)
			switch {
			case isTodo && org != "" && !memberOf(org, caller):
				t.Errorf("%s as %s: answer holds a todo of organization %s, which the caller is not a member of", what, caller, org)
			case isTodo && org == "" && owner != caller:
				t.Errorf("%s as %s: answer holds a personal todo of %v", what, caller, owner)
			}
			if _, isUser := v["email"]; isUser && v["id"] != caller {
				t.Errorf("%s as %s: answer holds user %v", what, caller, v["id"])
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
}

// memberOf reports whether user is a member of org now, as Better Auth's
// table says.
func (s *apiServer) memberOf(org, user string) bool {
	var ok bool
	err := s.Admin.QueryRow(context.Background(),
		`select exists (select from better_auth.member where "organizationId" = $1 and "userId" = $2)`, org, user).Scan(&ok)
	return err == nil && ok
}

// apiProblem is the RFC 9457 body the API answers errors with.
type apiProblem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Field  string `json:"field"`
		Detail string `json:"detail"`
	} `json:"errors"`
	WaitingFor []struct {
		Component string `json:"component"`
		Reason    string `json:"reason"`
	} `json:"waiting_for"`
}

func (r apiResponse) problem(t testing.TB) apiProblem {
	t.Helper()
	var p apiProblem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem body %s: %v", clipBody(r.Body), err)
	}
	return p
}

// object decodes a JSON object body.
func (r apiResponse) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %s: %v", clipBody(r.Body), err)
	}
	return m
}

// apiTodo is a todo as the API returns it.
type apiTodo struct {
	ID             string    `json:"id"`
	UserID         string    `json:"user_id"`
	OrganizationID *string   `json:"organization_id"`
	Title          string    `json:"title"`
	Description    *string   `json:"description"`
	Completed      bool      `json:"completed"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

type apiPage struct {
	Items      []apiTodo `json:"items"`
	NextCursor *string   `json:"next_cursor"`
}

func apiDecode[T any](t testing.TB, body []byte) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("body %s: %v", clipBody(body), err)
	}
	return v
}

// problemWithoutRequestID is a problem body with its request_id removed, for
// comparing two answers.
func problemWithoutRequestID(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %s: %v", clipBody(body), err)
	}
	delete(m, "request_id")
	return m
}

// jsonSubset reports the first key of want whose value differs in got,
// comparing nested objects recursively.
func jsonSubset(want, got map[string]any) (string, bool) {
	for k, w := range want {
		g, ok := got[k]
		if wm, isMap := w.(map[string]any); isMap {
			gm, _ := g.(map[string]any)
			if key, ok := jsonSubset(wm, gm); !ok {
				return k + "." + key, false
			}
			continue
		}
		if !ok || !apiJSONEqual(w, g) {
			return k, false
		}
	}
	return "", true
}

func apiJSONEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// apiLogLine is one access log record.
type apiLogLine map[string]any

// logFor waits briefly for the access log line of request id and returns
// it (the line is written as the response goes out).
func (s *apiServer) logFor(t testing.TB, id string) apiLogLine {
	t.Helper()
	if id == "" {
		t.Fatal("no request id to look for")
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		for _, l := range s.Logs.lines(t) {
			if l["msg"] == "request" && l["request_id"] == id {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line with request_id %q in:\n%s", id, s.Logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// apiLogBuffer is a bytes.Buffer safe for the logger and the test at once.
type apiLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *apiLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *apiLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *apiLogBuffer) lines(t testing.TB) []apiLogLine {
	t.Helper()
	var out []apiLogLine
	for _, raw := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if raw == "" {
			continue
		}
		var l apiLogLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("log line is not JSON: %s", raw)
		}
		out = append(out, l)
	}
	return out
}

// apiSaneRequestID mirrors the API's rule for keeping a client's X-Request-Id.
func apiSaneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func clipBody(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
