package tests

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/httpapi"
)

// rateLimitField is RateLimit's value on a refusal: nothing left, and the
// effective window equal to Retry-After.
var rateLimitField = regexp.MustCompile(`^"(user|anonymous)";r=0;t=([1-9][0-9]*)$`)

// checkTooMany asserts a 429 carries what the contract promises: a
// documented rate_limited problem, Retry-After in whole seconds, and the
// RateLimit fields of the named policy with t equal to Retry-After.
func checkTooMany(t *testing.T, route string, resp apiResponse, policy, wantPolicyField string) {
	t.Helper()
	if resp.Status != 429 || resp.problem(t).Code != "rate_limited" {
		t.Fatalf("want a rate_limited 429, got %d %s", resp.Status, clipBody(resp.Body))
	}
	checkDocumented(t, "GET", route, resp)
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	m := rateLimitField.FindStringSubmatch(resp.Header.Get("RateLimit"))
	if err != nil || ra < 1 || m == nil || m[1] != policy || m[2] != strconv.Itoa(ra) {
		t.Fatalf("Retry-After %q, RateLimit %q", resp.Header.Get("Retry-After"), resp.Header.Get("RateLimit"))
	}
	if got := resp.Header.Get("RateLimit-Policy"); got != wantPolicyField {
		t.Fatalf("RateLimit-Policy %q, want %q", got, wantPolicyField)
	}
}

// TestAPIRateLimitUser: a user flooding past the limit gets 429s while
// another user sending at the same time, within his own burst, never does.
func TestAPIRateLimitUser(t *testing.T) {
	t.Parallel()
	const burst = 30
	s := newAPIServer(t, func(c *apiConfig) { c.app.RateLimit = httpapi.RateLimit{UserRPS: 1, UserBurst: burst} })
	aliceToken, bobToken := s.tokenFor(t, alice), s.tokenFor(t, bob)
	var mu sync.Mutex
	statuses := map[string][]apiResponse{}
	var wg sync.WaitGroup
	hammer := func(who, token string, workers, each int) {
		for range workers {
			wg.Go(func() {
				for range each {
					resp, err := s.try(t, apiRequest{method: "GET", path: "/v1/todos", bearer: token})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					statuses[who] = append(statuses[who], resp)
					mu.Unlock()
				}
			})
		}
	}
	start := time.Now()
	hammer("alice", aliceToken, 4, 40)
	hammer("bob", bobToken, 3, burst/3)
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d requests in %v", len(statuses["alice"])+len(statuses["bob"]), elapsed)

	for _, resp := range statuses["bob"] {
		if resp.Status != 200 || !strings.HasPrefix(resp.Header.Get("RateLimit"), `"user";r=`) ||
			resp.Header.Get("RateLimit-Policy") != `"user";q=30;w=30` {
			t.Fatalf("bob, within his burst while alice floods: %d, RateLimit %q %q",
				resp.Status, resp.Header.Get("RateLimit"), resp.Header.Get("RateLimit-Policy"))
		}
	}
	allowed, refused := 0, 0
	for _, resp := range statuses["alice"] {
		switch resp.Status {
		case 200:
			allowed++
		case 429:
			refused++
			checkTooMany(t, "/v1/todos", resp, "user", `"user";q=30;w=30`)
		default:
			t.Fatalf("alice: %d %s", resp.Status, clipBody(resp.Body))
		}
	}
	// The bucket refills one a second while the test runs.
	if most := burst + int(elapsed.Seconds()) + 1; allowed < burst || allowed > most || refused == 0 {
		t.Fatalf("alice: %d allowed (want %d to %d), %d refused", allowed, burst, most, refused)
	}
	if got := scrapeMetric(t, s, `rowgate_http_rate_limited_total{kind="user"}`); got != strconv.Itoa(refused) {
		t.Fatalf("metric counts %s user refusals, alice got %d", got, refused)
	}
}

// TestAPIRateLimitAnonymous: requests whose token fails spend their
// address's budget; once it is spent, the next are answered 429 without
// being verified, while valid tokens already seen still pass, and valid
// tokens never spend the budget.
func TestAPIRateLimitAnonymous(t *testing.T) {
	t.Parallel()
	const burst = 10
	s := newAPIServer(t, func(c *apiConfig) { c.app.RateLimit = httpapi.RateLimit{AnonRPS: 0.01, AnonBurst: burst} })
	aliceToken := s.tokenFor(t, alice)
	forged := aliceToken[:len(aliceToken)-4] + "AAAA" // well formed; the signature fails
	for range 3 * burst {
		if resp := s.do(t, apiRequest{method: "GET", path: "/v1/todos", bearer: aliceToken}); resp.Status != 200 {
			t.Fatalf("valid token: %d", resp.Status)
		}
	}
	rejected := s.countLogs(t, "auth: token rejected")
	for i := range 3 * burst {
		resp := s.do(t, apiRequest{method: "GET", path: "/v1/todos", bearer: forged})
		switch {
		case i < burst && resp.Status != 401:
			t.Fatalf("forged token %d, budget left: %d", i, resp.Status)
		case i >= burst:
			checkTooMany(t, "/v1/todos", resp, "anonymous", `"anonymous";q=10;w=1000`)
		}
	}
	if n := s.countLogs(t, "auth: token rejected") - rejected; n != burst {
		t.Fatalf("%d tokens verified and rejected, want %d: refused requests must not be verified", n, burst)
	}
	checkTooMany(t, "/v1/me", s.do(t, apiRequest{method: "GET", path: "/v1/me"}), "anonymous", `"anonymous";q=10;w=1000`)
	// A user behind the same address whose token verified before passes;
	// a token never seen waits like any other (documented in RateLimit).
	if resp := s.do(t, apiRequest{method: "GET", path: "/v1/todos", bearer: aliceToken}); resp.Status != 200 {
		t.Fatalf("a known valid token from the spent address: %d", resp.Status)
	}
	checkTooMany(t, "/v1/todos", s.do(t, apiRequest{method: "GET", path: "/v1/todos", as: bob}), "anonymous", `"anonymous";q=10;w=1000`)
	if got := scrapeMetric(t, s, `rowgate_http_rate_limited_total{kind="anonymous"}`); got != strconv.Itoa(2*burst+2) {
		t.Fatalf("metric counts %s anonymous refusals, want %d", got, 2*burst+2)
	}
}

// TestAPIRateLimitForwardedFor: a client cannot pick its bucket with
// X-Forwarded-For, which counts only from a trusted proxy.
func TestAPIRateLimitForwardedFor(t *testing.T) {
	t.Parallel()
	limit := httpapi.RateLimit{AnonRPS: 0.01, AnonBurst: 3}
	send := func(s *apiServer, xff string) apiResponse {
		return s.do(t, apiRequest{method: "GET", path: "/v1/todos", bearer: "not.a.token", header: map[string]string{"X-Forwarded-For": xff}})
	}
	t.Run("IgnoredWithoutTrustedProxies", func(t *testing.T) {
		t.Parallel()
		s := newAPIServer(t, func(c *apiConfig) { c.app.RateLimit = limit })
		for i := range 3 {
			send(s, fmt.Sprintf("203.0.113.%d", i))
		}
		if resp := send(s, "203.0.113.200"); resp.Status != 429 {
			t.Fatalf("a fresh X-Forwarded-For got its own bucket: %d", resp.Status)
		}
	})
	t.Run("HonouredFromTrustedProxy", func(t *testing.T) {
		t.Parallel()
		s := newAPIServer(t, func(c *apiConfig) {
			c.app.RateLimit = limit
			c.app.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		})
		for range 3 {
			send(s, "203.0.113.1")
		}
		for xff, want := range map[string]int{
			"203.0.113.1":               429, // the client that spent its budget
			"203.0.113.2":               401, // another client behind the same proxy
			"198.51.100.9, 203.0.113.1": 429, // prepending an address changes nothing
		} {
			if resp := send(s, xff); resp.Status != want {
				t.Errorf("X-Forwarded-For %q: %d, want %d", xff, resp.Status, want)
			}
		}
	})
}

// TestAPIRateLimitOff: with the limits at zero nothing is refused and no
// RateLimit field is sent.
func TestAPIRateLimitOff(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	token := s.tokenFor(t, alice)
	for range 150 {
		resp := s.do(t, apiRequest{method: "GET", path: "/v1/todos", bearer: token})
		if resp.Status != 200 || resp.Header.Get("RateLimit") != "" || resp.Header.Get("RateLimit-Policy") != "" {
			t.Fatalf("%d, RateLimit %q", resp.Status, resp.Header.Get("RateLimit"))
		}
		if resp := s.do(t, apiRequest{method: "GET", path: "/v1/todos", bearer: "not.a.token"}); resp.Status != 401 {
			t.Fatalf("bad token: %d", resp.Status)
		}
	}
}

// countLogs counts the log lines with message msg.
func (s *apiServer) countLogs(t testing.TB, msg string) int {
	t.Helper()
	n := 0
	for _, l := range s.Logs.lines(t) {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}

// scrapeMetric returns one series' value from /metrics.
func scrapeMetric(t testing.TB, s *apiServer, series string) string {
	t.Helper()
	resp := s.do(t, apiRequest{method: "GET", path: "/metrics"})
	for _, line := range strings.Split(string(resp.Body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	t.Fatalf("no %s in /metrics", series)
	return ""
}
