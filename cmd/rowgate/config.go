package main

import (
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rowgate/rowgate/internal/app"
	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/httpapi"
	"github.com/rowgate/rowgate/internal/postgres"
	"github.com/rowgate/rowgate/internal/todo"
)

// serveConfig is every setting of `rowgate serve`. Each comes from its
// environment variable, and a flag overrides it; the README documents them
// in one table. Defaults fail closed: no issuer or audience means no start.
type serveConfig struct {
	DatabaseURL      string
	ReplicaURLs      string
	ReplicaMaxLag    time.Duration
	ReplicaWait      time.Duration
	ListenAddr       string
	JWKSURL          string
	JWKSFile         string
	Issuer           string
	Audience         string
	AllowAnyIssuer   bool
	AllowAnyAudience bool
	ClockSkew        time.Duration
	JWKSMinRefresh   time.Duration
	JWKSFetchTimeout time.Duration
	JWKSRefreshWait  time.Duration
	JWKSMaxRetry     time.Duration
	LogFormat        string
	LogLevel         string
	RequestTimeout   time.Duration
	StatementTimeout time.Duration
	ShutdownTimeout  time.Duration
	DrainDelay       time.Duration
	DBMaxConns       int
	DBAcquireTimeout time.Duration
	IdempotencyTTL   time.Duration
	CORSOrigins      string
	PprofAddr        string

	RateLimitRPS       float64
	RateLimitBurst     int
	RateLimitAnonRPS   float64
	RateLimitAnonBurst int
	TrustedProxies     string
}

// envFlags binds flags whose defaults come from the environment; a bad
// environment value is reported like a bad flag.
type envFlags struct {
	fs   *flag.FlagSet
	errs []string
	late []func() // secrets, read from the environment after parsing
}

// secret binds a flag whose environment value must not appear in -h output
// (a database URL may carry a password): it is read after parsing, when
// the flag was not given.
func (e *envFlags) secret(p *string, name, env, usage string) {
	e.fs.StringVar(p, name, "", usage+" (env "+env+")")
	e.late = append(e.late, func() {
		if *p == "" {
			*p = os.Getenv(env)
		}
	})
}

func (e *envFlags) str(p *string, name, env, def, usage string) {
	if v := os.Getenv(env); v != "" {
		def = v
	}
	e.fs.StringVar(p, name, def, usage+" (env "+env+")")
}

func (e *envFlags) boolean(p *bool, name, env string, usage string) {
	def := false
	if v := os.Getenv(env); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Sprintf("%s=%q is not a boolean", env, v))
		}
		def = b
	}
	e.fs.BoolVar(p, name, def, usage+" (env "+env+")")
}

func (e *envFlags) duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	if v := os.Getenv(env); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Sprintf("%s=%q is not a duration such as 10s", env, v))
		}
		def = d
	}
	e.fs.DurationVar(p, name, def, usage+" (env "+env+")")
}

func (e *envFlags) float(p *float64, name, env string, def float64, usage string) {
	if v := os.Getenv(env); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			e.errs = append(e.errs, fmt.Sprintf("%s=%q is not a number", env, v))
		}
		def = f
	}
	e.fs.Float64Var(p, name, def, usage+" (env "+env+")")
}

func (e *envFlags) integer(p *int, name, env string, def int, usage string) {
	if v := os.Getenv(env); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Sprintf("%s=%q is not an integer", env, v))
		}
		def = n
	}
	e.fs.IntVar(p, name, def, usage+" (env "+env+")")
}

func (c *serveConfig) bind(fs *flag.FlagSet) *envFlags {
	e := &envFlags{fs: fs}
	e.secret(&c.DatabaseURL, "database-url", "DATABASE_URL", "PostgreSQL URL, connecting as rowgate_app")
	e.secret(&c.ReplicaURLs, "replica-urls", "DATABASE_REPLICA_URLS", "comma-separated URLs of streaming replicas, connecting as rowgate_app, for read-only requests")
	e.duration(&c.ReplicaMaxLag, "replica-max-lag", "REPLICA_MAX_LAG", postgres.DefaultReplicaMaxLag, "a replica further behind the primary than this takes no reads")
	e.duration(&c.ReplicaWait, "replica-wait", "REPLICA_WAIT", postgres.DefaultReplicaWait, "longest a read waits for a replica to reach the caller's last write before it goes to the primary")
	e.str(&c.ListenAddr, "listen", "LISTEN_ADDR", ":8080", "address to serve HTTP on")
	e.str(&c.JWKSURL, "jwks-url", "AUTH_JWKS_URL", "", "JWKS URL, e.g. https://app.example.com/api/auth/jwks")
	e.str(&c.JWKSFile, "jwks-file", "AUTH_JWKS_FILE", "", "JWKS file, instead of a URL")
	e.str(&c.Issuer, "issuer", "AUTH_ISSUER", "", "required iss claim (Better Auth: its base URL)")
	e.str(&c.Audience, "audience", "AUTH_AUDIENCE", "", "required aud claim (Better Auth: its base URL)")
	e.boolean(&c.AllowAnyIssuer, "allow-any-issuer", "AUTH_ALLOW_ANY_ISSUER", "development only: accept tokens from any issuer")
	e.boolean(&c.AllowAnyAudience, "allow-any-audience", "AUTH_ALLOW_ANY_AUDIENCE", "development only: accept tokens for any audience")
	e.duration(&c.ClockSkew, "clock-skew", "AUTH_CLOCK_SKEW", 30*time.Second, "tolerance for exp, nbf and iat")
	e.duration(&c.JWKSMinRefresh, "jwks-min-refresh", "AUTH_JWKS_MIN_REFRESH", 10*time.Second, "least time between two JWKS fetches triggered by unknown key ids")
	e.duration(&c.JWKSFetchTimeout, "jwks-fetch-timeout", "AUTH_JWKS_FETCH_TIMEOUT", auth.DefaultFetchTimeout, "bound on one JWKS fetch")
	e.duration(&c.JWKSRefreshWait, "jwks-refresh-wait", "AUTH_JWKS_REFRESH_WAIT", auth.DefaultRefreshWait, "longest a request with an unknown key id waits for a JWKS fetch before it is refused (401)")
	e.duration(&c.JWKSMaxRetry, "jwks-max-retry", "AUTH_JWKS_MAX_RETRY", auth.DefaultMaxRetryInterval, "longest pause between JWKS retries while the endpoint fails, once keys have loaded")
	e.str(&c.LogFormat, "log-format", "LOG_FORMAT", "json", "json or text")
	e.str(&c.LogLevel, "log-level", "LOG_LEVEL", "info", "debug, info, warn or error")
	e.duration(&c.RequestTimeout, "request-timeout", "REQUEST_TIMEOUT", 10*time.Second, "deadline of each API request")
	e.duration(&c.StatementTimeout, "statement-timeout", "STATEMENT_TIMEOUT", 5*time.Second, "PostgreSQL statement_timeout, set per transaction")
	e.duration(&c.ShutdownTimeout, "shutdown-timeout", "SHUTDOWN_TIMEOUT", 30*time.Second, "how long in-flight requests may finish after SIGTERM")
	e.duration(&c.DrainDelay, "drain-delay", "SHUTDOWN_DRAIN_DELAY", 0, "after SIGTERM, keep serving this long with /readyz answering 503, so load balancers stop sending traffic before the listener closes")
	e.integer(&c.DBMaxConns, "db-max-conns", "DB_MAX_CONNS", 0, "pool size; 0 means pgx's default, max(4, CPUs)")
	e.duration(&c.DBAcquireTimeout, "db-acquire-timeout", "DB_ACQUIRE_TIMEOUT", postgres.DefaultAcquireTimeout, "longest wait for a pooled connection; past it the request answers 503 (overloaded)")
	e.duration(&c.IdempotencyTTL, "idempotency-key-ttl", "IDEMPOTENCY_KEY_TTL", todo.DefaultIdempotencyKeyTTL, "how long an Idempotency-Key is remembered")
	e.str(&c.CORSOrigins, "cors-origins", "CORS_ALLOWED_ORIGINS", "", "comma-separated browser origins allowed to call the API")
	e.float(&c.RateLimitRPS, "rate-limit-rps", "RATE_LIMIT_RPS", httpapi.DefaultUserRPS, "requests a second each user may make; 0 turns the per-user limit off")
	e.integer(&c.RateLimitBurst, "rate-limit-burst", "RATE_LIMIT_BURST", httpapi.DefaultUserBurst, "requests a user may make at once; 0 means twice the rate")
	e.float(&c.RateLimitAnonRPS, "rate-limit-anon-rps", "RATE_LIMIT_ANON_RPS", httpapi.DefaultAnonRPS, "requests a second, per client address, whose token is missing or invalid; 0 turns it off")
	e.integer(&c.RateLimitAnonBurst, "rate-limit-anon-burst", "RATE_LIMIT_ANON_BURST", httpapi.DefaultAnonBurst, "such requests an address may make at once; 0 means twice the rate")
	e.str(&c.TrustedProxies, "trusted-proxies", "TRUSTED_PROXIES", "", "comma-separated CIDRs of proxies whose X-Forwarded-For names the client; empty trusts none")
	e.str(&c.PprofAddr, "pprof-addr", "PPROF_ADDR", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060); off when empty")
	return e
}

// validate reports every missing or contradictory setting at once.
func (c *serveConfig) validate(e *envFlags) error {
	for _, f := range e.late {
		f()
	}
	problems := append([]string{}, e.errs...)
	if c.DatabaseURL == "" {
		problems = append(problems, "DATABASE_URL is required (a URL that connects as rowgate_app)")
	}
	if (c.JWKSURL == "") == (c.JWKSFile == "") {
		problems = append(problems, "set exactly one of AUTH_JWKS_URL and AUTH_JWKS_FILE")
	}
	if c.Issuer == "" && !c.AllowAnyIssuer {
		problems = append(problems, "AUTH_ISSUER is required (or AUTH_ALLOW_ANY_ISSUER=true, for development only)")
	}
	if c.Audience == "" && !c.AllowAnyAudience {
		problems = append(problems, "AUTH_AUDIENCE is required (or AUTH_ALLOW_ANY_AUDIENCE=true, for development only)")
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		problems = append(problems, "LOG_FORMAT must be json or text")
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		problems = append(problems, err.Error())
	}
	for name, v := range map[string]float64{"RATE_LIMIT_RPS": c.RateLimitRPS, "RATE_LIMIT_ANON_RPS": c.RateLimitAnonRPS} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			problems = append(problems, name+" must be a number of requests a second, 0 or more")
		}
	}
	for name, v := range map[string]int{"RATE_LIMIT_BURST": c.RateLimitBurst, "RATE_LIMIT_ANON_BURST": c.RateLimitAnonBurst} {
		if v < 0 {
			problems = append(problems, name+" must be 0 or more")
		}
	}
	if _, err := httpapi.ParseTrustedProxies(c.TrustedProxies); err != nil {
		problems = append(problems, "TRUSTED_PROXIES: "+err.Error())
	}
	if len(problems) > 0 {
		return usageError{strings.Join(problems, "; ")}
	}
	return nil
}

// app is the service's part of the settings.
func (c *serveConfig) app() app.Config {
	trusted, _ := httpapi.ParseTrustedProxies(c.TrustedProxies) // validate checked it
	return app.Config{
		DatabaseURL: c.DatabaseURL, ReplicaURLs: splitURLs(c.ReplicaURLs),
		ReplicaMaxLag: c.ReplicaMaxLag, ReplicaWait: c.ReplicaWait,
		JWKSURL: c.JWKSURL, JWKSFile: c.JWKSFile, Issuer: c.Issuer, Audience: c.Audience,
		AllowAnyIssuer: c.AllowAnyIssuer, AllowAnyAudience: c.AllowAnyAudience,
		ClockSkew: c.ClockSkew, JWKSMinRefresh: c.JWKSMinRefresh,
		JWKSFetchTimeout: c.JWKSFetchTimeout, JWKSRefreshWait: c.JWKSRefreshWait, JWKSMaxRetry: c.JWKSMaxRetry,
		RequestTimeout: c.RequestTimeout, StatementTimeout: c.StatementTimeout,
		DBMaxConns: c.DBMaxConns, DBAcquireTimeout: c.DBAcquireTimeout, IdempotencyKeyTTL: c.IdempotencyTTL,
		ShutdownTimeout: c.ShutdownTimeout, DrainDelay: c.DrainDelay, CORSOrigins: c.corsOrigins(),
		RateLimit: httpapi.RateLimit{
			UserRPS: c.RateLimitRPS, UserBurst: c.RateLimitBurst,
			AnonRPS: c.RateLimitAnonRPS, AnonBurst: c.RateLimitAnonBurst,
		},
		TrustedProxies: trusted,
	}
}

func (c *serveConfig) corsOrigins() []string { return splitList(c.CORSOrigins) }

// splitURLs splits a comma-separated list of postgres:// URLs. A comma
// not followed by a scheme belongs to the URL before it (a multi-host
// URL such as postgres://u@h1:5432,h2:5432/db).
func splitURLs(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		p := strings.TrimSpace(part)
		switch {
		case p == "":
		case len(out) == 0 || strings.HasPrefix(p, "postgres://") || strings.HasPrefix(p, "postgresql://"):
			out = append(out, p)
		default:
			out[len(out)-1] += "," + p
		}
	}
	return out
}

// splitList splits a comma-separated setting, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, o := range strings.Split(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error")
	}
	return l, nil
}
