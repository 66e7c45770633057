package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowgate/rowgate/internal/todo"
)

// Defaults of Config.
const (
	DefaultStatementTimeout = 5 * time.Second
	// DefaultAcquireTimeout bounds the wait for a pooled connection, well
	// under the default request timeout: a request that cannot get one in
	// time answers 503 (overloaded) instead of queueing without end.
	DefaultAcquireTimeout = 2 * time.Second
	// DefaultRetryBudget bounds retries for a context that has no deadline
	// of its own (requests have one: the request timeout).
	DefaultRetryBudget = 5 * time.Second
	DefaultKnownUsers  = 100_000
)

// Config configures the pool. URL is the only required field.
type Config struct {
	// URL connects as rowgate_app. It may be a pooler's URL (Neon's pooled
	// endpoint, PgBouncer in transaction mode): see chooseExecMode. It may
	// list several hosts with target_session_attrs=read-write, for
	// failover.
	URL string
	// StatementTimeout bounds each statement; it is set per transaction.
	StatementTimeout time.Duration
	// MaxConns bounds the pool; 0 keeps pgxpool's default.
	MaxConns int32
	// AcquireTimeout bounds the wait for a pooled connection.
	AcquireTimeout time.Duration
	// IdempotencyKeyTTL is how long an Idempotency-Key is remembered;
	// default todo.DefaultIdempotencyKeyTTL.
	IdempotencyKeyTTL time.Duration
	// KnownUsers bounds the cache of callers whose users row is known to
	// exist (they skip the provisioning statement).
	KnownUsers int
	// DialFunc, when set, replaces the dialer (tests count round trips).
	DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)
	// ReplicaURLs are streaming standbys that read-only requests may go
	// to (each with its own pool); none by default.
	ReplicaURLs []string
	// ReplicaMaxLag takes a replica out of rotation while it is further
	// behind the primary than this.
	ReplicaMaxLag time.Duration
	// ReplicaWait bounds how long a read waits for a replica to reach the
	// caller's last write before it goes to the primary.
	ReplicaWait time.Duration
	// ReplicaMonitorInterval is how often replicas' state is read.
	ReplicaMonitorInterval time.Duration
	// Logger receives changes of state (database unreachable, reachable
	// again, pooler detected); nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.StatementTimeout <= 0 {
		c.StatementTimeout = DefaultStatementTimeout
	}
	if c.AcquireTimeout <= 0 {
		c.AcquireTimeout = DefaultAcquireTimeout
	}
	if c.IdempotencyKeyTTL <= 0 {
		c.IdempotencyKeyTTL = todo.DefaultIdempotencyKeyTTL
	}
	if c.KnownUsers <= 0 {
		c.KnownUsers = DefaultKnownUsers
	}
	if c.ReplicaMaxLag <= 0 {
		c.ReplicaMaxLag = DefaultReplicaMaxLag
	}
	if c.ReplicaWait < 0 {
		c.ReplicaWait = 0
	} else if c.ReplicaWait == 0 {
		c.ReplicaWait = DefaultReplicaWait
	}
	if c.ReplicaMonitorInterval <= 0 {
		c.ReplicaMonitorInterval = DefaultReplicaMonitor
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// DB is the pool and the one transaction helper every store uses. Its door
// stays shut until CheckRole has passed once: no request reaches the
// database before rowgate has proven that row level security holds for
// the role it connects as.
type DB struct {
	primary        *server
	timeout        string
	acquireTimeout time.Duration
	keyTTL         time.Duration
	known          *knownUsers
	log            *slog.Logger
	gate           gate
	faults         faultCounters
	routing        *routing // nil without replicas
}

// Open builds the pool without connecting, so rowgate can start before
// PostgreSQL does. Nothing is served until CheckRole succeeds (WaitReady
// retries it until then).
func Open(ctx context.Context, cfg Config) (*DB, error) {
	cfg = cfg.withDefaults()
	primary, err := newServer("primary", cfg.URL, cfg)
	if err != nil {
		return nil, err
	}
	db := &DB{
		primary:        primary,
		timeout:        fmt.Sprint(cfg.StatementTimeout.Milliseconds()),
		acquireTimeout: cfg.AcquireTimeout,
		keyTTL:         cfg.IdempotencyKeyTTL,
		known:          newKnownUsers(cfg.KnownUsers),
		log:            cfg.Logger,
	}
	db.gate.init()
	if len(cfg.ReplicaURLs) > 0 {
		if db.routing, err = newRouting(cfg); err != nil {
			primary.close()
			return nil, err
		}
		db.routing.start(primary, cfg.Logger)
	}
	return db, nil
}

// Close stops the replica monitor, waits for connections in use to be
// released, then closes them.
func (db *DB) Close() {
	if db.routing != nil {
		db.routing.close()
	}
	db.primary.close()
}

// Routing reports where reads went and each replica's state; zero without
// replicas.
func (db *DB) Routing() RoutingStats {
	if db.routing == nil {
		return RoutingStats{}
	}
	return db.routing.stats()
}

// Fatal delivers the refusal of a replica whose role could bypass row
// level security: the service must stop, as for the primary. It never
// delivers without replicas.
func (db *DB) Fatal() <-chan error {
	if db.routing == nil {
		return nil
	}
	return db.routing.fatal
}

// Stat reports the primary pool's statistics, for metrics.
func (db *DB) Stat() *pgxpool.Stat { return db.primary.current().Stat() }

// QueryExecMode reports how statements are sent, and why that mode was
// chosen, for the start-up log.
func (db *DB) QueryExecMode() (mode, why string) { return db.primary.execMode() }

// Ready reports whether the database answers as the role the pool uses
// and the safety checks have passed. Its error says why not in a few
// words of rowgate's own, safe to show on /readyz (never the server's
// message text).
func (db *DB) Ready(ctx context.Context) error {
	if !db.gate.isOpen() {
		return db.gate.reason()
	}
	var one int
	if err := db.primary.current().QueryRow(ctx, "select 1").Scan(&one); err != nil {
		if db.routing != nil && db.routing.serving() {
			return &ReadsOnlyError{Reason: describe(err).Error()}
		}
		return describe(err)
	}
	return nil
}

// ReadsOnlyError is Ready's answer while the primary cannot be reached
// but a replica in rotation still serves reads: the service is degraded
// (writes answer 503), not down.
type ReadsOnlyError struct{ Reason string }

func (e *ReadsOnlyError) Error() string { return "the primary: " + e.Reason + "; replicas serve reads" }

// WaitReady runs CheckRole until it passes, retrying with capped,
// jittered backoff while the database cannot be reached, and logging
// changes of state rather than every try. It returns nil once the door is
// open, the refusal when the role or schema would let row level security
// be bypassed (the caller must stop), or ctx's error.
func (db *DB) WaitReady(ctx context.Context) error {
	delay := 100 * time.Millisecond
	for {
		err := db.CheckRole(ctx)
		var refused *RefusalError
		switch {
		case err == nil:
			db.primary.health.answered(db.log, db.primary.name)
			return nil
		case errors.As(err, &refused):
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		}
		db.gate.setReason(describe(err))
		db.primary.health.failed(db.log, db.primary.name, err)
		if !sleep(ctx, jitter(delay)) {
			return ctx.Err()
		}
		delay = min(2*delay, time.Second)
	}
}
