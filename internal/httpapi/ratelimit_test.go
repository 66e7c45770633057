package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/todo"
)

// fakeAuth stands in for auth.Middleware without keys: "Bearer ok-<id>"
// verifies as user <id>, anything else fails as the real one does. It
// counts verifications and remembers the tokens that verified (Known).
type fakeAuth struct {
	verified atomic.Int64
	mu       sync.Mutex
	seen     map[string]bool
}

func (f *fakeAuth) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get("Authorization")
		if h == "" {
			return &auth.Error{Err: auth.ErrMissingToken}
		}
		f.verified.Add(1)
		id, ok := strings.CutPrefix(h, "Bearer ok-")
		if !ok {
			return &auth.Error{Err: auth.ErrInvalidToken}
		}
		f.mu.Lock()
		f.seen[h] = true
		f.mu.Unlock()
		c.SetRequest(c.Request().WithContext(auth.WithCaller(c.Request().Context(), todo.Caller{ID: id})))
		return next(c)
	}
}

func (f *fakeAuth) known(h http.Header) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[h.Get("Authorization")]
}

// emptyTodos answers every list with an empty page; it stands for no
// database (none of these requests would reach one in a way that matters).
type emptyTodos struct{ TodoStore }

func (emptyTodos) List(context.Context, todo.Caller, todo.ListQuery) (todo.Page, error) {
	return todo.Page{}, nil
}

func newLimitedAPI(rl RateLimit, trusted ...netip.Prefix) (*echo.Echo, *fakeAuth) {
	f := &fakeAuth{seen: map[string]bool{}}
	if rl.Known == nil {
		rl.Known = f.known
	}
	return New(Options{Todos: emptyTodos{}, Auth: f.middleware, RateLimit: rl, TrustedProxies: trusted}), f
}

type limitedRequest struct {
	token, remote, xff string
}

func (r limitedRequest) send(h http.Handler) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/v1/todos", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	if r.remote != "" {
		req.RemoteAddr = r.remote
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.xff != "" {
		req.Header.Set("X-Forwarded-For", r.xff)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func problemCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	return p.Code
}

func TestUserRateLimit(t *testing.T) {
	t.Parallel()
	e, _ := newLimitedAPI(RateLimit{UserRPS: 0.001, UserBurst: 3})
	for i := range 3 {
		rec := limitedRequest{token: "ok-alice"}.send(e)
		if rec.Code != 200 {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
		want := `"user";r=` + string(rune('2'-i)) + ";t="
		if got := rec.Header().Get("RateLimit"); !strings.HasPrefix(got, want) ||
			rec.Header().Get("RateLimit-Policy") != `"user";q=3;w=3000` {
			t.Fatalf("request %d: RateLimit %q, RateLimit-Policy %q", i, got, rec.Header().Get("RateLimit-Policy"))
		}
	}
	rec := limitedRequest{token: "ok-alice"}.send(e)
	if rec.Code != http.StatusTooManyRequests || problemCode(t, rec) != "rate_limited" ||
		rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("over the limit: %d %s", rec.Code, rec.Body)
	}
	if ra, rl := rec.Header().Get("Retry-After"), rec.Header().Get("RateLimit"); ra != "1000" || rl != `"user";r=0;t=1000` ||
		rec.Header().Get("RateLimit-Policy") != `"user";q=3;w=3000` {
		t.Fatalf("over the limit: Retry-After %q, RateLimit %q, RateLimit-Policy %q", ra, rl, rec.Header().Get("RateLimit-Policy"))
	}
	if rec := (limitedRequest{token: "ok-bob"}).send(e); rec.Code != 200 {
		t.Fatalf("bob, while alice is limited: %d %s", rec.Code, rec.Body)
	}
	if got := metricValue(t, e, `rowgate_http_rate_limited_total{kind="user"}`); got != "1" {
		t.Fatalf("user refusals counted %s, want 1", got)
	}
}

// TestAnonRateLimit: failed tokens spend the address's budget; once it is
// spent, requests are refused before verification, except known tokens;
// valid tokens spend nothing.
func TestAnonRateLimit(t *testing.T) {
	t.Parallel()
	e, f := newLimitedAPI(RateLimit{AnonRPS: 0.001, AnonBurst: 5})
	for range 50 { // valid tokens from the same address spend nothing
		if rec := (limitedRequest{token: "ok-alice"}).send(e); rec.Code != 200 {
			t.Fatalf("valid token: %d %s", rec.Code, rec.Body)
		}
	}
	f.verified.Store(0)
	for i := range 5 {
		if rec := (limitedRequest{token: "forged"}).send(e); rec.Code != 401 {
			t.Fatalf("bad token %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	for _, r := range []limitedRequest{{token: "forged"}, {}, {token: "ok-carol"}} {
		rec := r.send(e)
		if rec.Code != 429 || problemCode(t, rec) != "rate_limited" || rec.Header().Get("Retry-After") != "1000" ||
			rec.Header().Get("RateLimit") != `"anonymous";r=0;t=1000` || rec.Header().Get("RateLimit-Policy") != `"anonymous";q=5;w=5000` {
			t.Fatalf("%+v with the address's budget spent: %d %v %s", r, rec.Code, rec.Header(), rec.Body)
		}
	}
	if n := f.verified.Load(); n != 5 {
		t.Fatalf("%d verifications, want 5: the refused ones must not be verified", n)
	}
	if rec := (limitedRequest{token: "ok-alice"}).send(e); rec.Code != 200 {
		t.Fatalf("a known valid token from the spent address: %d %s", rec.Code, rec.Body)
	}
	if rec := (limitedRequest{token: "forged", remote: "192.0.2.2:1"}).send(e); rec.Code != 401 {
		t.Fatalf("another address: %d %s", rec.Code, rec.Body)
	}
	if got := metricValue(t, e, `rowgate_http_rate_limited_total{kind="anonymous"}`); got != "3" {
		t.Fatalf("anonymous refusals counted %s, want 3", got)
	}
}

// TestForwardedFor: X-Forwarded-For is ignored unless the peer is a
// trusted proxy, and then only up to the first untrusted address.
func TestForwardedFor(t *testing.T) {
	t.Parallel()
	drain := func(h http.Handler, r limitedRequest) {
		for range 2 {
			r.token = "forged"
			r.send(h)
		}
	}
	t.Run("IgnoredByDefault", func(t *testing.T) {
		t.Parallel()
		e, _ := newLimitedAPI(RateLimit{AnonRPS: 0.001, AnonBurst: 2})
		drain(e, limitedRequest{xff: "203.0.113.1"})
		if rec := (limitedRequest{token: "forged", xff: "203.0.113.2"}).send(e); rec.Code != 429 {
			t.Fatalf("a new X-Forwarded-For picked a new bucket: %d", rec.Code)
		}
	})
	t.Run("PrivateProxyNotTrustedByDefault", func(t *testing.T) {
		t.Parallel()
		e, _ := newLimitedAPI(RateLimit{AnonRPS: 0.001, AnonBurst: 2}, netip.MustParsePrefix("198.51.100.0/24"))
		drain(e, limitedRequest{remote: "10.0.0.1:1", xff: "203.0.113.1"})
		if rec := (limitedRequest{token: "forged", remote: "10.0.0.1:1", xff: "203.0.113.2"}).send(e); rec.Code != 429 {
			t.Fatalf("a private peer's X-Forwarded-For was trusted: %d", rec.Code)
		}
	})
	t.Run("HonouredFromTrustedProxy", func(t *testing.T) {
		t.Parallel()
		e, _ := newLimitedAPI(RateLimit{AnonRPS: 0.001, AnonBurst: 2}, netip.MustParsePrefix("198.51.100.0/24"))
		proxy := "198.51.100.7:5555"
		drain(e, limitedRequest{remote: proxy, xff: "203.0.113.1"})
		if rec := (limitedRequest{token: "forged", remote: proxy, xff: "203.0.113.1"}).send(e); rec.Code != 429 {
			t.Fatalf("the flooding client behind the proxy: %d", rec.Code)
		}
		if rec := (limitedRequest{token: "forged", remote: proxy, xff: "203.0.113.2"}).send(e); rec.Code != 401 {
			t.Fatalf("another client behind the proxy: %d", rec.Code)
		}
		// A client that prepends addresses is still itself: the proxy
		// appended its real address last.
		if rec := (limitedRequest{token: "forged", remote: proxy, xff: "192.0.2.99, 203.0.113.1"}).send(e); rec.Code != 429 {
			t.Fatalf("a spoofed X-Forwarded-For escaped the bucket: %d", rec.Code)
		}
	})
}

// TestRateLimitOff: the zero RateLimit limits nothing and sends no fields.
func TestRateLimitOff(t *testing.T) {
	t.Parallel()
	e, _ := newLimitedAPI(RateLimit{})
	for range 200 {
		if rec := (limitedRequest{token: "forged"}).send(e); rec.Code != 401 {
			t.Fatalf("bad token: %d", rec.Code)
		}
		rec := limitedRequest{token: "ok-alice"}.send(e)
		if rec.Code != 200 || rec.Header().Get("RateLimit") != "" || rec.Header().Get("RateLimit-Policy") != "" {
			t.Fatalf("valid token: %d %v", rec.Code, rec.Header())
		}
	}
}

// TestHealthNotLimited: only /v1 is limited.
func TestHealthNotLimited(t *testing.T) {
	t.Parallel()
	e, _ := newLimitedAPI(RateLimit{AnonRPS: 0.001, AnonBurst: 1})
	limitedRequest{token: "forged"}.send(e)
	for _, path := range []string{"/healthz", "/metrics", "/openapi.json"} {
		for range 5 {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.RemoteAddr = "192.0.2.1:1234"
			rec := httptest.NewRecorder()
			if e.ServeHTTP(rec, req); rec.Code != 200 {
				t.Fatalf("%s: %d", path, rec.Code)
			}
		}
	}
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.1":                 "192.0.2.1",
		"::ffff:192.0.2.1":          "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":      "2001:db8:1:2::",
		"2001:db8:1:2:ffff::1":      "2001:db8:1:2::",
		"fe80::1%eth0":              "fe80::",
		"":                          "invalid IP",
		"not an address":            "invalid IP",
		"2001:db8:1:3:3:4:5:6":      "2001:db8:1:3::",
		"2001:0db8:0001:0002::0001": "2001:db8:1:2::",
	} {
		if got := clientAddr(in).String(); got != want {
			t.Errorf("clientAddr(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	got, err := ParseTrustedProxies(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,10.1.2.3/16,")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("10.1.0.0/16")}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if got, err := ParseTrustedProxies(""); err != nil || len(got) != 0 {
		t.Fatalf("empty list: %v %v", got, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "fe80::1%eth0"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// metricValue scrapes /metrics for one series' value.
func metricValue(t *testing.T, h http.Handler, series string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	t.Fatalf("no %s in /metrics", series)
	return ""
}

// TestRateLimitFieldsExposedToBrowsers: with CORS on, a browser script may
// read Retry-After and the RateLimit fields (none is CORS-safelisted).
func TestRateLimitFieldsExposedToBrowsers(t *testing.T) {
	t.Parallel()
	f := &fakeAuth{seen: map[string]bool{}}
	e := New(Options{Todos: emptyTodos{}, Auth: f.middleware, CORSOrigins: []string{"https://app.example"},
		RateLimit: RateLimit{UserRPS: 1, UserBurst: 1}})
	for range 2 {
		req := httptest.NewRequest(http.MethodGet, "/v1/todos", nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Authorization", "Bearer ok-alice")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		exposed := strings.ToLower(rec.Header().Get("Access-Control-Expose-Headers"))
		for _, h := range []string{"retry-after", "ratelimit", "ratelimit-policy"} {
			if !strings.Contains(","+strings.ReplaceAll(exposed, " ", "")+",", ","+h+",") {
				t.Errorf("%d: Access-Control-Expose-Headers %q lacks %s", rec.Code, exposed, h)
			}
		}
	}
}
