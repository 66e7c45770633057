package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowgate/rowgate/internal/todo"
)

// setIdentity is the first statement of every request. Both settings are
// transaction-local (third argument true): they end with the transaction.
const setIdentity = `select set_config('app.user_id', $1, true), set_config('statement_timeout', $2, true)`

// provisionUser creates the caller's users row on first contact. Row level
// security only lets a caller insert the row whose id is their own.
const provisionUser = `insert into users (id, email, name) values ($1, $2, $3) on conflict (id) do nothing`

// errUserMissing tells run that a statement found the caller's users row
// gone (deleted elsewhere since this process last saw it): run then
// provisions it and tries once more.
var errUserMissing = errors.New("postgres: caller's users row is missing")

// intent says what a batch does, which decides whether it may be sent
// again after a fault whose outcome is unknown.
type intent uint8

const (
	// reads only reads (the provisioning insert it may carry is
	// idempotent): resending it is always harmless.
	reads intent = iota
	// writes changes data: it is resent only when it cannot have taken
	// effect (never sent, or aborted by the server).
	writes
	// keyedWrite changes data, but a replay returns the first outcome
	// (an Idempotency-Key makes it so): it is resent like a read.
	keyedWrite
)

func (i intent) replaySafe() bool { return i != writes }

// run is the one door into the database. It sends, in one pipelined batch
// and therefore one implicit transaction and one round trip:
//
//  1. set_config('app.user_id', caller.ID, true) and the statement timeout;
//  2. for a caller not known to exist yet, the provisioning insert;
//  3. the statements build queues.
//
// Either all of them take effect or none does. A batch that fails on a
// fault is sent again on a fresh connection, with jittered backoff, within
// ctx's deadline, when that is safe: when PostgreSQL cannot have executed
// it, or when intent says a replay is harmless. build may be called
// several times, so it must reset whatever its callbacks fill in.
func (db *DB) run(ctx context.Context, caller todo.Caller, in intent, build func(b *pgx.Batch)) error {
	if caller.ID == "" {
		// Fail closed: never send a request without an identity.
		return todo.ErrNotFound
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultRetryBudget)
		defer cancel()
	}
	if err := db.gate.wait(ctx); err != nil {
		return err
	}
	provision := !db.known.has(caller.ID)
	for attempt := 0; ; attempt++ {
		err := db.attempt(ctx, caller, provision, build)
		switch {
		case err == nil:
			if provision {
				db.known.add(caller.ID)
			}
			return nil
		case errors.Is(err, errUserMissing) && !provision:
			db.known.forget(caller.ID)
			provision = true
			continue
		}
		var f *fault
		if !errors.As(err, &f) || !f.retryable(in.replaySafe()) {
			return db.outcome(err, in)
		}
		if !db.recover(f) && !pause(ctx, attempt) {
			return db.outcome(err, in)
		}
		db.faults.retried(f.stage)
		db.log.Debug("postgres: retrying a batch on a fresh connection", slog.Int("attempt", attempt+1), slog.Any("err", err))
	}
}

// attempt sends the batch once, on one connection.
func (db *DB) attempt(ctx context.Context, caller todo.Caller, provision bool, build func(b *pgx.Batch)) error {
	conn, err := db.acquire(ctx, db.primary.current())
	if err != nil {
		return err
	}
	defer conn.Release()
	b := &pgx.Batch{}
	b.Queue(setIdentity, caller.ID, db.timeout)
	if provision {
		b.Queue(provisionUser, caller.ID, nullable(caller.Email), nullable(caller.Name))
	}
	build(b)
	lastDone := trackLast(b)
	err = conn.SendBatch(ctx, b).Close()
	switch {
	case err == nil:
		db.health.answered(db.log, db.primary.name)
		return nil
	case isMissingOwner(err):
		return errUserMissing
	case !isFault(err):
		return err // a scan error, no rows, or a callback's own error
	}
	f := classifyAttempt(err, *lastDone)
	if connectionLost(err) {
		db.health.failed(db.log, db.primary.name, err)
	}
	return f
}

// acquire takes a connection from pool, waiting at most acquireTimeout. A
// pool that stays exhausted that long is shedding load: ErrOverloaded.
func (db *DB) acquire(ctx context.Context, pool *pgxpool.Pool) (*pgxpool.Conn, error) {
	actx, cancel := context.WithTimeout(ctx, db.acquireTimeout)
	defer cancel()
	conn, err := pool.Acquire(actx)
	switch {
	case err == nil:
		return conn, nil
	case ctx.Err() == nil && actx.Err() != nil:
		if st := pool.Stat(); st.AcquiredConns() >= st.MaxConns() {
			db.faults.overloaded.Add(1)
			return nil, fmt.Errorf("%w: no connection free within %s", todo.ErrOverloaded, db.acquireTimeout)
		}
	}
	db.health.failed(db.log, db.primary.name, err)
	return nil, &fault{err, notSent}
}

// recover acts on what a fault says about the server before the retry,
// and reports whether the retry may go at once (the cause is gone): a
// pool that meets a transaction pooler switches to unnamed statements;
// connections to a server that turned read-only (a demoted primary) are
// all discarded.
func (db *DB) recover(f *fault) bool {
	var pgErr *pgconn.PgError
	switch {
	case statementCacheError(f.err):
		return db.primary.switchToPoolerSafe(f.err)
	case errors.As(f.err, &pgErr) && pgErr.Code == pgerrcode.ReadOnlySQLTransaction:
		db.primary.current().Reset()
	}
	return false
}

// outcome turns the last error of run into what the stores return: a
// domain error for the HTTP layer.
func (db *DB) outcome(err error, in intent) error {
	var f *fault
	if errors.As(err, &f) && f.stage == unknown && !in.replaySafe() && connectionLost(err) {
		db.faults.outcomeUnknown.Add(1)
		return fmt.Errorf("%w: %w", todo.ErrOutcomeUnknown, err)
	}
	err = classify(err)
	if errors.Is(err, todo.ErrUnavailable) {
		db.faults.unavailable.Add(1)
	}
	return err
}

// isFault reports an error about the connection or reported by the
// server, as opposed to one raised while reading results.
func isFault(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) || connectionLost(err) || pgconn.SafeToRetry(err)
}

// trackLast wraps the callback of b's last statement, so that the
// returned flag tells whether it completed: after that only the commit at
// Sync is left.
func trackLast(b *pgx.Batch) *bool {
	done := new(bool)
	last := b.QueuedQueries[len(b.QueuedQueries)-1]
	fn := last.Fn
	last.Fn = func(br pgx.BatchResults) error {
		var err error
		if fn != nil {
			err = fn(br)
		} else {
			_, err = br.Exec()
		}
		*done = err == nil
		return err
	}
	return done
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// faultCounters count what the door did about faults, for /metrics.
type faultCounters struct {
	retries        [3]atomic.Int64 // by stage
	outcomeUnknown atomic.Int64
	overloaded     atomic.Int64
	unavailable    atomic.Int64
}

func (c *faultCounters) retried(s stage) { c.retries[s].Add(1) }

// FaultStats is a snapshot of the door's fault handling.
type FaultStats struct {
	// Retries counts batches sent again, by why it was safe: never sent,
	// aborted by the server, or harmless to replay.
	RetriesNotSent, RetriesAborted, Replays int64
	// OutcomeUnknown, Overloaded and Unavailable count requests that
	// ended in each kind of 503.
	OutcomeUnknown, Overloaded, Unavailable int64
	// PoolerSwitches counts switches to unnamed statements (0 or 1).
	PoolerSwitches int64
	// DeadConnsDiscarded counts pooled connections found dead before use.
	DeadConnsDiscarded int64
}

// FaultStats reports what the door did about faults so far.
func (db *DB) FaultStats() FaultStats {
	return FaultStats{
		RetriesNotSent: db.faults.retries[notSent].Load(), RetriesAborted: db.faults.retries[aborted].Load(),
		Replays: db.faults.retries[unknown].Load(), OutcomeUnknown: db.faults.outcomeUnknown.Load(),
		Overloaded: db.faults.overloaded.Load(), Unavailable: db.faults.unavailable.Load(),
		PoolerSwitches: db.primary.switches.Load(), DeadConnsDiscarded: db.primary.dead.Load(),
	}
}
