package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/app"
)

// TestAPIRequestID shows the request id in the X-Request-Id header, in a
// problem's request_id and in the access log line, which also names the
// method, the route pattern, the status and the user.
func TestAPIRequestID(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	seedAPI(t, s)
	seen := map[string]bool{}
	tests := []struct {
		name                  string
		r                     apiRequest
		sentID                string // "" sends none
		keep                  bool   // the server keeps sentID
		wantRoute             string
		wantStatus            int
		wantUser, wantErrCode string
	}{
		{name: "Generated", r: apiRequest{method: "GET", path: "/v1/todos/" + aliceTodo, as: alice}, wantRoute: "/v1/todos/:id", wantStatus: 200, wantUser: alice},
		{name: "ClientsKept", sentID: "client-id_1.2", keep: true, r: apiRequest{method: "GET", path: "/v1/todos/" + bobTodo, as: alice},
			wantRoute: "/v1/todos/:id", wantStatus: 404, wantUser: alice, wantErrCode: "not_found"},
		{name: "ClientsKept64", sentID: strings.Repeat("a", 64), keep: true, r: apiRequest{method: "POST", path: "/v1/todos", as: bob, body: `{"title":""}`},
			wantRoute: "/v1/todos", wantStatus: 422, wantUser: bob, wantErrCode: "validation_failed"},
		{name: "TooLongReplaced", sentID: strings.Repeat("a", 65), r: apiRequest{method: "GET", path: "/v1/me", as: bob}, wantRoute: "/v1/me", wantStatus: 200, wantUser: bob},
		{name: "BadCharactersReplaced", sentID: `x" injected=1`, r: apiRequest{method: "GET", path: "/v1/todos?limit=0", as: alice},
			wantRoute: "/v1/todos", wantStatus: 400, wantUser: alice, wantErrCode: "invalid_parameter"},
		{name: "Unauthenticated", r: apiRequest{method: "DELETE", path: "/v1/todos/" + aliceTodo}, wantRoute: "/v1/todos/:id", wantStatus: 401, wantErrCode: "missing_token"},
		{name: "Health", r: apiRequest{method: "GET", path: "/healthz"}, wantRoute: "/healthz", wantStatus: 200},
		{name: "UnknownRoute", r: apiRequest{method: "GET", path: "/nope"}, wantRoute: "unmatched", wantStatus: 404, wantErrCode: "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.sentID != "" {
				tt.r.header = map[string]string{"X-Request-Id": tt.sentID}
			}
			resp := s.do(t, tt.r)
			if resp.Status != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.Status, tt.wantStatus)
			}
			id := resp.Header.Get("X-Request-Id")
			switch {
			case tt.keep && id != tt.sentID:
				t.Errorf("X-Request-Id %q, want the client's %q", id, tt.sentID)
			case !tt.keep && (!apiSaneRequestID(id) || id == tt.sentID || seen[id]):
				t.Errorf("X-Request-Id %q, want a fresh generated one", id)
			}
			seen[id] = true
			l := s.logFor(t, id)
			want := map[string]any{"msg": "request", "level": "INFO", "request_id": id, "method": tt.r.method, "route": tt.wantRoute, "status": tt.wantStatus}
			if tt.wantUser != "" {
				want["user_id"] = tt.wantUser
			}
			if tt.wantErrCode != "" {
				want["error_code"] = tt.wantErrCode
			}
			if key, ok := jsonSubset(want, l); !ok {
				t.Errorf("access log %v: %s, want %v", l, key, want[key])
			}
			if _, ok := l["latency"]; !ok {
				t.Errorf("access log %v has no latency", l)
			}
			if tt.wantUser == "" && l["user_id"] != nil {
				t.Errorf("access log %v names a user", l)
			}
		})
	}
	t.Run("NoTokenInLogs", func(t *testing.T) {
		tok := s.tokenFor(t, alice)
		s.do(t, apiRequest{method: "GET", path: "/v1/me", bearer: tok})
		if strings.Contains(s.Logs.String(), tok[strings.LastIndex(tok, ".")+1:]) {
			t.Error("the logs contain a token")
		}
	})
}

// TestAPIServerErrorIsLoggedNotSent makes the database fail under a request
// (the pool is closed) and checks the client gets a bare problem while the
// log line with the same request id carries the cause.
func TestAPIServerErrorIsLoggedNotSent(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	seedAPI(t, s)
	s.Store.Close()
	resp := s.do(t, apiRequest{method: "GET", path: "/v1/todos", as: alice, allow5xx: true})
	if resp.Status != 503 && resp.Status != 500 {
		t.Fatalf("status %d with the pool closed", resp.Status)
	}
	id := resp.Header.Get("X-Request-Id")
	var found bool
	for _, l := range s.Logs.lines(t) {
		if l["msg"] == "request failed" && l["request_id"] == id && l["level"] == "ERROR" && l["err"] != nil && l["err"] != "" {
			found = true
		}
	}
	if !found {
		t.Errorf("no ERROR line with request_id %s and the cause in:\n%s", id, s.Logs.String())
	}
}

// TestAPIMetrics checks /metrics counts requests and observes latency by
// method, route pattern and status, and exports the pool statistics.
func TestAPIMetrics(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	seedAPI(t, s)
	for range 3 {
		s.do(t, apiRequest{method: "GET", path: "/v1/todos/" + aliceTodo, as: alice})
	}
	s.do(t, apiRequest{method: "GET", path: "/v1/todos/" + bobTodo, as: alice})
	s.do(t, apiRequest{method: "GET", path: "/v1/todos/" + noSuchTodo, as: alice})
	s.do(t, apiRequest{method: "POST", path: "/v1/todos", as: alice, body: `{`})
	s.do(t, apiRequest{method: "GET", path: "/v1/me"})
	s.do(t, apiRequest{method: "GET", path: "/no/such/route"})

	resp := s.do(t, apiRequest{method: "GET", path: "/metrics"})
	if resp.Status != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	m := parseMetrics(t, string(resp.Body))
	want := map[string]float64{
		`rowgate_http_requests_total{method="GET",route="/v1/todos/:id",status="200"}`:                            3,
		`rowgate_http_requests_total{method="GET",route="/v1/todos/:id",status="404"}`:                            2,
		`rowgate_http_requests_total{method="POST",route="/v1/todos",status="400"}`:                               1,
		`rowgate_http_requests_total{method="GET",route="/v1/me",status="401"}`:                                   1,
		`rowgate_http_requests_total{method="GET",route="unmatched",status="404"}`:                                1,
		`rowgate_http_request_duration_seconds_count{method="GET",route="/v1/todos/:id",status="200"}`:            3,
		`rowgate_http_request_duration_seconds_bucket{method="GET",route="/v1/todos/:id",status="404",le="+Inf"}`: 2,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	for _, k := range []string{
		"rowgate_db_pool_acquired_conns", "rowgate_db_pool_idle_conns", "rowgate_db_pool_total_conns",
		"rowgate_db_pool_max_conns", "rowgate_db_pool_acquires_total", "rowgate_db_pool_empty_acquires_total",
		"rowgate_db_pool_canceled_acquires_total", "rowgate_db_pool_acquire_duration_seconds_total",
	} {
		if _, ok := m[k]; !ok {
			t.Errorf("/metrics has no %s", k)
		}
	}
	if m["rowgate_db_pool_max_conns"] < 1 || m["rowgate_db_pool_acquires_total"] < 5 || m["rowgate_db_pool_total_conns"] < 1 {
		t.Errorf("pool statistics look unset: max %v, acquires %v, total %v",
			m["rowgate_db_pool_max_conns"], m["rowgate_db_pool_acquires_total"], m["rowgate_db_pool_total_conns"])
	}
	for k := range m {
		if strings.Contains(k, "route=") && strings.Contains(k, aliceTodo) {
			t.Errorf("a metric is labelled with a todo id, not the route pattern: %s", k)
		}
	}
}

// parseMetrics reads the Prometheus text format into name{labels} → value,
// with the labels in the order they appear.
func parseMetrics(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestAPIReadiness starts the service while neither PostgreSQL nor the
// JWKS answers: /healthz answers 200, /readyz answers 503 problem+json
// naming both dependencies in words of rowgate's own, and an API request
// answers 503 within its deadline, never 500.
func TestAPIReadiness(t *testing.T) {
	t.Parallel()
	closed := closedPort(t)
	cfg := app.Config{
		DatabaseURL: "postgres://rowgate_app@127.0.0.1:" + closed + "/rowgate?sslmode=disable",
		JWKSURL:     "http://127.0.0.1:" + closed + "/api/auth/jwks", Issuer: apiIssuer, Audience: apiAudience,
		RequestTimeout: 300 * time.Millisecond,
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.DB().WaitReady(ctx) // what Run does in the background
	ts := httptest.NewServer(a.Handler())
	defer ts.Close()
	s := &apiServer{URL: ts.URL, client: ts.Client()}

	resp := s.do(t, apiRequest{method: "GET", path: "/readyz", allow503: true})
	var p struct {
		Code       string                               `json:"code"`
		WaitingFor []struct{ Component, Reason string } `json:"waiting_for"`
	}
	json.Unmarshal(resp.Body, &p)
	waiting := map[string]string{}
	for _, w := range p.WaitingFor {
		waiting[w.Component] = w.Reason
	}
	if resp.Status != 503 || p.Code != "not_ready" || resp.Header.Get("Retry-After") == "" ||
		waiting["signing_keys"] == "" || waiting["database"] == "" {
		t.Errorf("/readyz with nothing up: %d %s, Retry-After %q", resp.Status, resp.Body, resp.Header.Get("Retry-After"))
	}
	if resp := s.do(t, apiRequest{method: "GET", path: "/healthz"}); resp.Status != 200 {
		t.Errorf("/healthz: %d", resp.Status)
	}
	resp = s.do(t, apiRequest{method: "GET", path: "/v1/me", bearer: "x.y.z", allow503: true})
	if resp.Status != 401 && resp.Status != 503 {
		t.Errorf("/v1/me with keys not loaded: %d %s", resp.Status, resp.Body)
	}
}

// closedPort returns a 127.0.0.1 port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}
