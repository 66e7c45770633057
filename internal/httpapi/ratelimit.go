package httpapi

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/ratelimit"
)

// The limits `rowgate serve` applies unless told otherwise. A user gets 50
// requests a second with bursts of 100: a person clicking through a UI
// sends a few a second, a page load a burst of ten or twenty, and the
// benchmark's 1,000 users share about 5,000 a second (5 each), so none of
// them comes near; a runaway script gets about 1% of what one server
// answers (docs/benchmarks.md) before it hears 429. An address gets 10
// failed or missing tokens a second, with bursts of 100. The burst is
// large because every request spends one before its token is verified
// and gets it back once it verifies: it bounds how many requests from one
// address may wait for a first verification at once (the users behind a
// NAT after a restart, whose tokens are not cached yet), while guessing
// at tokens still costs the server at most 100 verifications at once and
// 10 a second after.
const (
	DefaultUserRPS   = 50
	DefaultUserBurst = 100
	DefaultAnonRPS   = 10
	DefaultAnonBurst = 100
)

// RateLimit limits /v1 requests. Each limit is a token bucket: Burst
// requests at once, refilled at RPS a second. Its zero value limits
// nothing; `rowgate serve` sets the defaults above.
type RateLimit struct {
	// UserRPS limits each verified user (the token's sub) to this many
	// requests a second; 0 turns the per-user limit off. A user over it is
	// answered 429 with Retry-After, RateLimit and RateLimit-Policy, and
	// every other response to a user carries RateLimit and RateLimit-Policy
	// too. One user's bucket never touches another's.
	UserRPS float64
	// UserBurst is how many requests a user may send at once; 0 means twice
	// UserRPS (at least 1).
	UserBurst int
	// AnonRPS limits, per client address, the /v1 requests whose token is
	// missing or fails verification; 0 turns it off. Each such request
	// spends a token of its address; once the address has none left, its
	// requests are answered 429 before their token is verified, except
	// those whose token Known recognises. A request whose token verifies
	// spends nothing, so users behind one NAT do not share a budget.
	AnonRPS float64
	// AnonBurst is how many such requests an address may send at once; 0
	// means twice AnonRPS (at least 1).
	AnonBurst int
	// MaxKeys bounds the users and the addresses each limit remembers; 0
	// means ratelimit.DefaultMaxKeys. Idle ones are forgotten first, and
	// forgetting never makes a limit stricter (package ratelimit).
	MaxKeys int
	// Known reports, without verifying it, whether the request's bearer
	// token verified before and is still valid: auth.Verifier.Known. nil
	// means none is, and every request from an address out of tokens is
	// refused.
	Known func(http.Header) bool
}

// Policy names, as the RateLimit fields and the metric name them.
const (
	userPolicy = "user"
	anonPolicy = "anonymous"
)

const (
	ctxAddrToken = "rowgate.ratelimit_addr" // the address whose token this request holds
	// Canonical forms, so the hot path can write the header map directly.
	headerRateLimit       = "Ratelimit"
	headerRateLimitPolicy = "Ratelimit-Policy"
)

// rateLimits is the middleware state: a limiter per kind (nil when off),
// each with its policy field, and the count of refusals.
type rateLimits struct {
	users      *ratelimit.Limiter[string]
	userPolicy []string
	anon       *ratelimit.Limiter[netip.Addr]
	anonPolicy []string
	known      func(http.Header) bool

	rejected                   *prometheus.CounterVec
	rejectedUser, rejectedAnon prometheus.Counter
}

func newRateLimits(c RateLimit) *rateLimits {
	rl := &rateLimits{known: c.Known, rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rowgate_http_rate_limited_total",
		Help: "Requests answered 429, by kind: user (per verified user) or anonymous (per client address, before verification).",
	}, []string{"kind"})}
	rl.rejectedUser = rl.rejected.WithLabelValues(userPolicy)
	rl.rejectedAnon = rl.rejected.WithLabelValues(anonPolicy)
	if cfg, ok := bucketConfig(c.UserRPS, c.UserBurst, c.MaxKeys); ok {
		rl.users, _ = ratelimit.New[string](cfg)
		rl.userPolicy = []string{cfg.PolicyField(userPolicy)}
	}
	if cfg, ok := bucketConfig(c.AnonRPS, c.AnonBurst, c.MaxKeys); ok {
		rl.anon, _ = ratelimit.New[netip.Addr](cfg)
		rl.anonPolicy = []string{cfg.PolicyField(anonPolicy)}
	}
	return rl
}

// bucketConfig reports false when rps turns the limit off (0, or anything
// that is not a positive finite rate: serve's validation refuses those).
func bucketConfig(rps float64, burst, maxKeys int) (ratelimit.Config, bool) {
	if !(rps > 0) || math.IsInf(rps, 1) || maxKeys < 0 {
		return ratelimit.Config{}, false
	}
	if burst <= 0 {
		burst = int(min(math.Max(1, math.Ceil(2*rps)), math.MaxInt32))
	}
	return ratelimit.Config{Rate: rps, Burst: burst, MaxKeys: maxKeys}, true
}

// around wraps the authentication middleware: the address limit before it,
// the user limit after it.
func (rl *rateLimits) around(authenticate echo.MiddlewareFunc) echo.MiddlewareFunc {
	if rl.users == nil && rl.anon == nil {
		return authenticate
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		verified := authenticate(func(c echo.Context) error {
			rl.refundAddr(c)
			if err := rl.limitUser(c); err != nil {
				return err
			}
			return next(c)
		})
		return func(c echo.Context) error {
			if err := rl.limitAddr(c); err != nil {
				return err
			}
			return verified(c)
		}
	}
}

// limitAddr takes a token from the client address before the token is
// verified; refundAddr gives it back once it has verified. An address out
// of tokens is refused unless its token is already known to be valid.
func (rl *rateLimits) limitAddr(c echo.Context) error {
	if rl.anon == nil {
		return nil
	}
	addr := clientAddr(c.RealIP())
	d := rl.anon.Take(addr)
	switch {
	case d.Allowed:
		c.Set(ctxAddrToken, addr)
		return nil
	case rl.known != nil && rl.known(c.Request().Header):
		return nil
	}
	rl.rejectedAnon.Inc()
	return tooManyRequests(anonPolicy, rl.anonPolicy, d,
		"Too many requests without a valid token from this address; retry after Retry-After seconds.")
}

func (rl *rateLimits) refundAddr(c echo.Context) {
	if rl.anon == nil {
		return
	}
	if addr, ok := c.Get(ctxAddrToken).(netip.Addr); ok {
		rl.anon.Refund(addr)
	}
}

// limitUser takes a token from the verified caller's bucket and, when it
// had one, writes the RateLimit fields on the response.
func (rl *rateLimits) limitUser(c echo.Context) error {
	if rl.users == nil {
		return nil
	}
	caller, ok := auth.CallerFrom(c.Request().Context())
	if !ok {
		return nil // auth.Middleware never calls on without a caller
	}
	d := rl.users.Take(caller.ID)
	if !d.Allowed {
		rl.rejectedUser.Inc()
		return tooManyRequests(userPolicy, rl.userPolicy, d,
			"Too many requests for this user; retry after Retry-After seconds.")
	}
	var buf [64]byte
	h := c.Response().Header()
	h[headerRateLimitPolicy] = rl.userPolicy
	h[headerRateLimit] = []string{string(d.AppendField(buf[:0], userPolicy))}
	return nil
}

// tooManyRequests is the 429 problem, with Retry-After and the RateLimit
// fields of draft-ietf-httpapi-ratelimit-headers-11.
func tooManyRequests(name string, policy []string, d ratelimit.Decision, detail string) *Problem {
	p := problem(http.StatusTooManyRequests, "rate_limited", detail).
		withHeader("Retry-After", strconv.FormatInt(d.RetryAfterSeconds(), 10)).
		withHeader(headerRateLimit, string(d.AppendField(nil, name)))
	p.header[headerRateLimitPolicy] = policy
	return p
}
