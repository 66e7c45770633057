package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Defaults and bounds for Config.
const (
	// DefaultSkew is the clock skew allowed for exp, nbf and iat when
	// Config.Skew is zero.
	DefaultSkew = 30 * time.Second
	// MaxSkew is the largest Config.Skew NewVerifier accepts; more would make
	// exp meaningless.
	MaxSkew = 5 * time.Minute
	// DefaultMinRefreshInterval is the least time between the starts of two
	// JWKS fetches, once a key set has loaded, when Config.MinRefreshInterval
	// is zero. It bounds what a flood of tokens with unknown kids can cost
	// the auth server (one fetch per interval) and how long a freshly
	// rotated key can go unseen.
	DefaultMinRefreshInterval = 10 * time.Second
	// DefaultRefreshInterval is how often the remote JWKS is re-read in the
	// background when Config.RefreshInterval is zero, so keys removed from
	// the set stop verifying without a restart.
	DefaultRefreshInterval = 15 * time.Minute
	// DefaultFetchTimeout bounds one JWKS fetch (connect, answer and body)
	// when Config.FetchTimeout is zero. It leaves room for an auth server
	// that starts cold, and keeps a black-holed endpoint from holding the
	// single fetch slot for long.
	DefaultFetchTimeout = 5 * time.Second
	// DefaultRefreshWait is the longest a token verification waits for an
	// on-demand JWKS fetch when Config.RefreshWait is zero.
	DefaultRefreshWait = time.Second
	// DefaultMaxRetryInterval caps the backoff between background retries
	// after a failed fetch, once a key set has loaded, when
	// Config.MaxRetryInterval is zero. With it rowgate sees an auth server
	// that came back within about 20 s, and a dead one costs it one request
	// every 10 to 20 s.
	DefaultMaxRetryInterval = 20 * time.Second
	// DefaultCacheSize is the number of verified tokens kept when
	// Config.CacheSize is zero.
	DefaultCacheSize = 10000
	// MaxTokenBytes is the largest token Verify parses; longer ones are
	// rejected unread.
	MaxTokenBytes = 8 << 10

	maxJWKSBytes = 1 << 20

	// Until the first key set loads, background fetches retry with a
	// backoff from startRetryMin to startRetryMax (with jitter), so rowgate
	// is ready within about a second of the auth server answering.
	startRetryMin = 100 * time.Millisecond
	startRetryMax = time.Second
)

// Config says where the verification keys come from and what a token must
// claim. The zero value is invalid: NewVerifier fails closed rather than
// guess.
type Config struct {
	// JWKSURL is a remote JWKS (for Better Auth, <base URL>/api/auth/jwks),
	// http or https. Keys are cached, re-read every RefreshInterval and
	// re-read early when a token names an unknown kid.
	JWKSURL string
	// JWKSFile is a local JWKS file, read once (the dev key's public JWKS).
	// Exactly one of JWKSURL and JWKSFile must be set.
	JWKSFile string
	// Issuer must equal the token's iss. Required unless AllowAnyIssuer.
	Issuer string
	// Audience must be the token's aud or one of its elements. Required
	// unless AllowAnyAudience.
	Audience string
	// AllowAnyIssuer and AllowAnyAudience are explicit development opt-outs:
	// they permit an empty Issuer or Audience, which then goes unchecked.
	// A non-empty Issuer or Audience is always checked.
	AllowAnyIssuer, AllowAnyAudience bool
	// Skew is the clock skew allowed for exp, nbf and iat; 0 means
	// DefaultSkew. Negative or above MaxSkew is an error.
	Skew time.Duration
	// HTTPClient fetches the JWKS; nil means a client whose timeout is
	// FetchTimeout. Every fetch is also bounded by FetchTimeout through its
	// context, whatever the client.
	HTTPClient *http.Client
	// FetchTimeout bounds one JWKS fetch, from connecting to the end of the
	// body; 0 means DefaultFetchTimeout. A fetch that runs out is a failure
	// like any other: the previous keys stay.
	FetchTimeout time.Duration
	// RefreshWait is the longest Verify waits for an on-demand JWKS fetch (a
	// token naming an unknown kid, or no key set loaded yet), and the longest
	// NewVerifier waits for the first fetch; 0 means DefaultRefreshWait, and
	// more than FetchTimeout is lowered to it. When the wait runs out Verify
	// answers with the keys it has, so an unknown kid is rejected, and the
	// fetch goes on in the background for later callers.
	RefreshWait time.Duration
	// MinRefreshInterval is the least time between the starts of two JWKS
	// fetches once a key set has loaded, whatever triggers them (unknown
	// kids, background refresh, retries); 0 means DefaultMinRefreshInterval.
	// Before the first set loads, fetches follow the start-up backoff
	// instead (100 ms growing to 1 s, one at a time).
	MinRefreshInterval time.Duration
	// RefreshInterval is how often the JWKS is re-read in the background
	// while fetches succeed; 0 means DefaultRefreshInterval. It is raised to
	// MinRefreshInterval if lower.
	RefreshInterval time.Duration
	// MaxRetryInterval caps the backoff of background retries after a failed
	// fetch, once a set has loaded: retries start MinRefreshInterval after
	// the failed attempt and double, with jitter, up to this cap, so rowgate
	// sees an endpoint that came back within MaxRetryInterval plus one
	// fetch. 0 means DefaultMaxRetryInterval; it is raised to
	// MinRefreshInterval if lower.
	MaxRetryInterval time.Duration
	// CacheSize bounds the verified-token cache: 0 means DefaultCacheSize,
	// negative turns the cache off.
	CacheSize int
	// Logger receives key-set changes, changes of the fetch state (the
	// first failure of a run at warn, or error while no set has loaded; the
	// recovery at info; each further failed try at debug only) and rejected
	// tokens (debug, reason only). nil discards.
	Logger *slog.Logger
}

// withDefaults validates c and fills in defaults. It never contacts the
// network.
func (c Config) withDefaults() (Config, error) {
	if (c.JWKSURL == "") == (c.JWKSFile == "") {
		return c, errors.New("auth: set exactly one of JWKSURL and JWKSFile")
	}
	if c.JWKSURL != "" {
		if err := checkJWKSURL(c.JWKSURL); err != nil {
			return c, err
		}
	}
	if c.Issuer == "" && !c.AllowAnyIssuer {
		return c, errors.New("auth: Issuer is required (set AllowAnyIssuer to opt out in development)")
	}
	if c.Audience == "" && !c.AllowAnyAudience {
		return c, errors.New("auth: Audience is required (set AllowAnyAudience to opt out in development)")
	}
	if c.Skew < 0 || c.Skew > MaxSkew {
		return c, fmt.Errorf("auth: Skew must be between 0 and %s", MaxSkew)
	}
	if c.MinRefreshInterval < 0 || c.RefreshInterval < 0 || c.MaxRetryInterval < 0 ||
		c.FetchTimeout < 0 || c.RefreshWait < 0 {
		return c, errors.New("auth: JWKS intervals and timeouts must not be negative")
	}
	c.Skew = orDefault(c.Skew, DefaultSkew)
	c.MinRefreshInterval = orDefault(c.MinRefreshInterval, DefaultMinRefreshInterval)
	c.RefreshInterval = max(orDefault(c.RefreshInterval, DefaultRefreshInterval), c.MinRefreshInterval)
	c.MaxRetryInterval = max(orDefault(c.MaxRetryInterval, DefaultMaxRetryInterval), c.MinRefreshInterval)
	c.FetchTimeout = orDefault(c.FetchTimeout, DefaultFetchTimeout)
	c.RefreshWait = min(orDefault(c.RefreshWait, DefaultRefreshWait), c.FetchTimeout)
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.FetchTimeout}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("auth: JWKSURL must be an absolute http or https URL")
	}
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
