package postgres

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Config configures the pool. URL is the only required field.
type Config struct {
	// URL connects as rowgate_app. It may be a pooler's URL (Neon's pooled
	// endpoint, PgBouncer in transaction mode): see QueryExecMode.
	URL string
	// StatementTimeout bounds each statement; it is set per transaction.
	// Default 5s.
	StatementTimeout time.Duration
	// MaxConns bounds the pool; 0 keeps pgxpool's default.
	MaxConns int32
	// KnownUsers bounds the cache of callers whose users row is known to
	// exist (they skip the provisioning statement). Default 100000.
	KnownUsers int
	// DialFunc, when set, replaces the dialer (tests count round trips).
	DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)
}

// DB is the pool and the one transaction helper every store uses.
type DB struct {
	pool     *pgxpool.Pool
	timeout  string
	known    *knownUsers
	execMode pgx.QueryExecMode
	execWhy  string
}

// Open connects the pool and checks that the database answers. It does not
// check the role; call CheckRole before serving.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: database url: %w", err)
	}
	mode, why := chooseExecMode(cfg.URL, pcfg.ConnConfig)
	pcfg.ConnConfig.DefaultQueryExecMode = mode
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	if cfg.DialFunc != nil {
		pcfg.ConnConfig.DialFunc = cfg.DialFunc
	}
	if cfg.StatementTimeout <= 0 {
		cfg.StatementTimeout = 5 * time.Second
	}
	if cfg.KnownUsers <= 0 {
		cfg.KnownUsers = 100_000
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return &DB{
		pool:     pool,
		timeout:  fmt.Sprint(cfg.StatementTimeout.Milliseconds()),
		known:    newKnownUsers(cfg.KnownUsers),
		execMode: mode,
		execWhy:  why,
	}, nil
}

// Close waits for connections in use to be released, then closes them.
func (db *DB) Close() { db.pool.Close() }

// Stat reports the pool's statistics, for metrics.
func (db *DB) Stat() *pgxpool.Stat { return db.pool.Stat() }

// QueryExecMode reports how statements are sent, and why that mode was
// chosen, for the start-up log.
func (db *DB) QueryExecMode() (mode, why string) { return db.execMode.String(), db.execWhy }

// Ready reports whether the database answers, as the role the pool uses.
func (db *DB) Ready(ctx context.Context) error {
	var one int
	return db.pool.QueryRow(ctx, "select 1").Scan(&one)
}

// chooseExecMode keeps an explicit default_query_exec_mode from the
// connection string. Otherwise it uses pgx's statement cache (named
// prepared statements) on a direct connection, and describe-only caching
// (unnamed statements) when any host looks like a transaction pooler. Named
// statements do not survive a transaction pooler moving the client to
// another server connection (42P05, 26000); unnamed ones do. A false
// "pooler" costs plan reuse; a missed one fails requests, so the guess is
// wide.
func chooseExecMode(connString string, cfg *pgx.ConnConfig) (pgx.QueryExecMode, string) {
	if namesExecMode(connString) {
		return cfg.DefaultQueryExecMode, "set by default_query_exec_mode in the database URL"
	}
	if looksPooled(cfg) {
		return pgx.QueryExecModeCacheDescribe, "the URL looks like a transaction pooler (host contains \"pooler\", or port 6432 or 6543)"
	}
	return pgx.QueryExecModeCacheStatement, "direct connection: prepared statements are cached"
}

// namesExecMode reports whether the connection string itself sets
// default_query_exec_mode, as a URL parameter or a keyword/value pair, and
// not merely contains the text (in a password, say).
func namesExecMode(connString string) bool {
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		return false
	}
	_, ok := cfg.RuntimeParams["default_query_exec_mode"]
	return ok
}

// looksPooled reports whether any host, fallbacks included, looks like a
// transaction pooler: Neon's "-pooler" hosts, Supabase's
// "pooler.supabase.com", PgBouncer's port 6432, Supavisor's port 6543.
func looksPooled(cfg *pgx.ConnConfig) bool {
	hosts := append([]*pgconn.FallbackConfig{{Host: cfg.Host, Port: cfg.Port}}, cfg.Fallbacks...)
	for _, h := range hosts {
		if strings.Contains(h.Host, "pooler") || h.Port == 6432 || h.Port == 6543 {
			return true
		}
	}
	return false
}
