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
	// DefaultMinRefreshInterval is the least time between two JWKS fetches
	// when Config.MinRefreshInterval is zero. It bounds what a flood of
	// tokens with unknown kids can cost the auth server (one fetch per
	// interval) and how long a freshly rotated key can go unseen.
	DefaultMinRefreshInterval = 10 * time.Second
	// DefaultRefreshInterval is how often the remote JWKS is re-read in the
	// background when Config.RefreshInterval is zero, so keys removed from
	// the set stop verifying without a restart.
	DefaultRefreshInterval = 15 * time.Minute
	// DefaultCacheSize is the number of verified tokens kept when
	// Config.CacheSize is zero.
	DefaultCacheSize = 10000
	// MaxTokenBytes is the largest token Verify parses; longer ones are
	// rejected unread.
	MaxTokenBytes = 8 << 10

	maxJWKSBytes = 1 << 20
	fetchTimeout = 10 * time.Second
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
	// HTTPClient fetches the JWKS; nil means a client with a 10 s timeout.
	// Every fetch is also bounded by a 10 s deadline.
	HTTPClient *http.Client
	// MinRefreshInterval is the least time between two JWKS fetches,
	// however many unknown kids arrive; 0 means DefaultMinRefreshInterval.
	MinRefreshInterval time.Duration
	// RefreshInterval is how often the JWKS is re-read in the background;
	// 0 means DefaultRefreshInterval. Until the first successful fetch the
	// background retry runs every MinRefreshInterval instead.
	RefreshInterval time.Duration
	// CacheSize bounds the verified-token cache: 0 means DefaultCacheSize,
	// negative turns the cache off.
	CacheSize int
	// Logger receives key-set changes, fetch failures (warn) and rejected
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
	if c.MinRefreshInterval < 0 || c.RefreshInterval < 0 {
		return c, errors.New("auth: refresh intervals must not be negative")
	}
	c.Skew = orDefault(c.Skew, DefaultSkew)
	c.MinRefreshInterval = orDefault(c.MinRefreshInterval, DefaultMinRefreshInterval)
	c.RefreshInterval = max(orDefault(c.RefreshInterval, DefaultRefreshInterval), c.MinRefreshInterval)
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: fetchTimeout}
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
