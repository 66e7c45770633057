package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

// server is one PostgreSQL endpoint rowgate sends batches to: its pool, and
// how statements are sent to it. The pool may be replaced once, by a
// pooler-safe one, when the endpoint turns out to be a transaction pooler.
type server struct {
	name string // "primary", or a replica's host, for logs and metrics
	log  *slog.Logger
	cfg  *pgxpool.Config // the configuration the current pool was built from

	mu      sync.Mutex // serialises switchToPoolerSafe
	pool    atomic.Pointer[pgxpool.Pool]
	why     atomic.Pointer[string]
	retired []*pgxpool.Pool // pools replaced by a switch, closed with the server

	health   health       // whether it last answered, for logs
	switches atomic.Int64 // switches to pooler-safe statements
	dead     atomic.Int64 // pooled connections found dead before use
}

// newServer builds the pool for a connection string, choosing the
// statement mode from it (see chooseExecMode). It does not connect:
// connections open on first use, so rowgate can start before PostgreSQL.
func newServer(name, url string, cfg Config) (*server, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s database url: %w", name, err)
	}
	mode, why := chooseExecMode(url, pcfg.ConnConfig)
	pcfg.ConnConfig.DefaultQueryExecMode = mode
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	if cfg.DialFunc != nil {
		pcfg.ConnConfig.DialFunc = cfg.DialFunc
	}
	pcfg.ConnConfig.BuildContextWatcherHandler = cancelOnServer
	if _, ok := pcfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		pcfg.ConnConfig.RuntimeParams["application_name"] = "rowgate"
	}
	s := &server{name: name, log: cfg.Logger, cfg: pcfg}
	pcfg.ShouldPing = s.shouldPing
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", name, err)
	}
	s.pool.Store(pool)
	s.why.Store(&why)
	return s, nil
}

// cancelDeadline is how long a cancelled request's connection waits for
// PostgreSQL to acknowledge the cancel before it is cut.
const cancelDeadline = 500 * time.Millisecond

// cancelOnServer makes a request whose deadline passes cancel its
// statement in PostgreSQL (a CancelRequest) instead of only dropping the
// connection, as pgx does by default. The server then aborts the
// statement and says so (57014): a timed-out write is known not to have
// happened, and the connection stays usable. If the server does not answer
// within cancelDeadline, the connection is cut after all.
func cancelOnServer(c *pgconn.PgConn) ctxwatch.Handler {
	return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: cancelDeadline}
}

// peekAfter is how long a connection must have been idle before it is
// peeked at. A connection released a moment ago by a request that used
// it is alive; a busy pool hands connections out every millisecond or
// so, and skips the system call.
const peekAfter = 10 * time.Millisecond

// shouldPing is the pool's ShouldPing hook, in place of pgxpool's default
// (a ping, one round trip, for every connection idle for a second): a
// connection idle for more than peekAfter is peeked at (see alive), and
// only one whose server side is gone is "pinged", which fails, so the pool
// discards it and hands out another before anything is sent on it.
func (s *server) shouldPing(_ context.Context, p pgxpool.ShouldPingParams) bool {
	if p.IdleDuration < peekAfter || alive(p.Conn) {
		return false
	}
	s.dead.Add(1)
	return true
}

// current returns the pool batches go to now.
func (s *server) current() *pgxpool.Pool { return s.pool.Load() }

// execMode reports how statements are sent, and why.
func (s *server) execMode() (mode, why string) {
	return s.current().Config().ConnConfig.DefaultQueryExecMode.String(), *s.why.Load()
}

// switchToPoolerSafe replaces a pool that sends named prepared statements
// with one that sends unnamed statements with cached descriptions, which
// work through any transaction pooler. It reports whether the pool batches
// go to now is pooler-safe; the switch itself happens once. Batches in
// flight finish on the old pool, which closes with the server.
func (s *server) switchToPoolerSafe(cause error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.current()
	switch old.Config().ConnConfig.DefaultQueryExecMode {
	case pgx.QueryExecModeCacheStatement:
	case pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol:
		return true // already safe: a batch on the old pool was in flight
	default:
		return false
	}
	cfg := s.cfg.Copy()
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		s.log.Error("postgres: cannot build a pooler-safe pool", slog.String("server", s.name), slog.Any("err", err))
		return false
	}
	why := "switched after " + sqlState(cause) + ": a transaction pooler moved a session between server connections, so named prepared statements cannot be used"
	s.cfg = cfg
	s.pool.Store(pool)
	s.why.Store(&why)
	s.retired = append(s.retired, old)
	s.switches.Add(1)
	go old.Reset() // idle connections go now; busy ones when released
	s.log.Warn("postgres: transaction pooler detected; switched to unnamed statements (cache_describe)",
		slog.String("server", s.name), slog.String("sqlstate", sqlState(cause)))
	return true
}

func (s *server) close() {
	s.current().Close()
	for _, p := range s.retired {
		p.Close()
	}
}

func sqlState(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return "unknown"
}

// chooseExecMode keeps an explicit default_query_exec_mode from the
// connection string. Otherwise it uses pgx's statement cache (named
// prepared statements) on a direct connection, and describe-only caching
// (unnamed statements) when any host looks like a transaction pooler. The
// guess is only a first one: a pooler it misses is detected by the errors
// it causes, and the pool switches (switchToPoolerSafe).
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
