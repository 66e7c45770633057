package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

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
// and therefore one transaction and one round trip:
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
//
// With replicas, reads go to one that has the caller's last write (see
// routing), and a write's batch also returns the primary's WAL position
// after its commit: the caller's new floor, remembered here and handed to
// the client as a Consistency-Token.
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
	sh := db.plan(ctx, caller, in, !db.known.has(caller.ID))
	for attempt := 0; ; attempt++ {
		f, err := db.attempt(ctx, caller, sh, build)
		switch {
		case err == nil:
			db.done(ctx, caller, sh, f)
			return nil
		case errors.Is(err, errUserMissing) && !sh.provision:
			db.known.forget(caller.ID)
			sh = db.onPrimary(in, true) // provisioning writes
			continue
		}
		var flt *fault
		if !errors.As(err, &flt) || !flt.retryable(in.replaySafe()) {
			return db.outcome(err, in)
		}
		if !db.recover(sh.target, flt) && !pause(ctx, attempt) {
			return db.outcome(err, in)
		}
		db.faults.retried(flt.stage)
		db.log.Debug("postgres: retrying a batch on a fresh connection", slog.String("server", sh.target.name),
			slog.Int("attempt", attempt+1), slog.Any("err", err))
		sh = db.replan(ctx, caller, in, sh, flt)
	}
}

// shot is where one attempt goes and what it carries.
type shot struct {
	target    *server
	replica   *replica // nil on the primary
	provision bool
	// floor: a write on a primary with replicas, whose batch commits
	// explicitly and then reads the WAL position.
	floor bool
}

// onPrimary is a shot at the primary.
func (db *DB) onPrimary(in intent, provision bool) shot {
	return shot{target: db.primary, provision: provision, floor: in != reads && db.routing != nil}
}

// plan decides where a batch goes first. Writes, and the first request of
// a caller this process has not seen (it provisions the users row), go to
// the primary; reads go to a replica that has the caller's last write, if
// any does (in time), else to the primary.
func (db *DB) plan(ctx context.Context, caller todo.Caller, in intent, provision bool) shot {
	if in != reads || db.routing == nil {
		return db.onPrimary(in, provision)
	}
	if provision {
		db.routing.fallback(fallbackFirstContact)
		return db.onPrimary(in, true)
	}
	return db.readShot(ctx, caller)
}

// readShot routes a read by the caller's floor: the greater of the one
// this process remembers and the one the client's Consistency-Token names.
func (db *DB) readShot(ctx context.Context, caller todo.Caller) shot {
	need, primaryOnly := db.routing.floors.get(caller.ID, time.Now())
	if c := todo.ConsistencyFrom(ctx); c != nil && c.In != "" {
		tf, ok := parseToken(c.In)
		switch {
		case !ok:
			primaryOnly = true // malformed or forged: the primary answers it
		case need.zero() || !need.covers(tf):
			need = tf
		}
	}
	rep, reason := db.routing.pick(ctx, need, primaryOnly)
	if rep == nil {
		db.routing.fallback(reason)
		return db.onPrimary(reads, false)
	}
	return shot{target: rep.server, replica: rep}
}

// replan chooses where a failed read goes next: away from a replica that
// failed, and to a replica when the primary cannot be reached at all (the
// read then goes without provisioning; the caller's users row is created
// by their first write).
func (db *DB) replan(ctx context.Context, caller todo.Caller, in intent, sh shot, f *fault) shot {
	if in != reads || db.routing == nil || !connectionLost(f.err) {
		return sh
	}
	if sh.replica != nil {
		sh.replica.markDown("unreachable: " + describe(f.err).Error())
		return db.readShot(ctx, caller)
	}
	if next := db.readShot(ctx, caller); next.replica != nil {
		return next
	}
	return sh
}

// done records what a successful batch tells: a known caller, where a
// read went, and a write's floor.
func (db *DB) done(ctx context.Context, caller todo.Caller, sh shot, f floor) {
	if sh.provision {
		db.known.add(caller.ID)
	}
	if db.routing == nil {
		return
	}
	switch {
	case sh.replica != nil:
		sh.replica.reads.Add(1)
	case !sh.floor:
		db.routing.primary.Add(1)
	default:
		db.routing.floors.remember(caller.ID, f, time.Now())
		if c := todo.ConsistencyFrom(ctx); c != nil && f.lsn != pinned(0, 0).lsn {
			c.Out = f.token()
		}
	}
}

// attempt sends the batch once, on one connection of sh.target, and
// returns the write's floor when sh.floor.
func (db *DB) attempt(ctx context.Context, caller todo.Caller, sh shot, build func(b *pgx.Batch)) (floor, error) {
	conn, err := db.acquire(ctx, sh.target)
	if err != nil {
		return floor{}, err
	}
	defer conn.Release()
	b := &pgx.Batch{}
	var got floor
	committed := false
	if sh.floor {
		b.Queue("begin")
	}
	b.Queue(setIdentity, caller.ID, db.timeout)
	if sh.provision {
		b.Queue(provisionUser, caller.ID, nullable(caller.Email), nullable(caller.Name))
	}
	build(b)
	if sh.floor {
		b.Queue("commit").Exec(func(pgconn.CommandTag) error { committed = true; return nil })
		b.Queue(walPosition).QueryRow(func(row pgx.Row) error {
			var lsn, tl int64
			err := row.Scan(&lsn, &tl)
			got = floor{system: db.routing.system.Load(), timeline: uint32(tl), lsn: uint64(lsn)}
			return err
		})
	}
	lastDone := trackLast(b)
	err = conn.SendBatch(ctx, b).Close()
	if sh.floor && !conn.Conn().IsClosed() && conn.Conn().PgConn().TxStatus() != 'I' {
		conn.Conn().Exec(ctx, "rollback") // an error inside the explicit transaction
	}
	switch {
	case err == nil:
		sh.target.health.answered(db.log, sh.target.name)
		return got, nil
	case committed:
		// The write took effect; only its position was lost with the
		// connection. The caller's reads go to the primary for a while.
		return pinned(db.routing.system.Load(), db.routing.timeline.Load()), nil
	case isMissingOwner(err):
		return floor{}, errUserMissing
	case !isFault(err):
		return floor{}, err // a scan error, no rows, or a callback's own error
	}
	if connectionLost(err) {
		sh.target.health.failed(db.log, sh.target.name, err)
	}
	return floor{}, classifyAttempt(err, *lastDone && !sh.floor)
}

// acquire takes a connection from pool, waiting at most acquireTimeout. A
// pool that stays exhausted that long is shedding load: ErrOverloaded.
func (db *DB) acquire(ctx context.Context, target *server) (*pgxpool.Conn, error) {
	pool := target.current()
	if st := pool.Stat(); st.IdleConns() > 0 || st.TotalConns() < st.MaxConns() {
		// A connection is idle, or may be opened: no wait to bound, so no
		// timer (a timer per request was 3% of the list's CPU). Should
		// another request take the idle one first, this one waits within
		// its own deadline.
		conn, err := pool.Acquire(ctx)
		if err != nil {
			target.health.failed(db.log, target.name, err)
			return nil, &fault{err, notSent}
		}
		return conn, nil
	}
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
	target.health.failed(db.log, target.name, err)
	return nil, &fault{err, notSent}
}

// recover acts on what a fault says about the server before the retry,
// and reports whether the retry may go at once (the cause is gone): a
// pool that meets a transaction pooler switches to unnamed statements;
// connections to a server that turned read-only (a demoted primary) are
// all discarded.
func (db *DB) recover(target *server, f *fault) bool {
	var pgErr *pgconn.PgError
	switch {
	case statementCacheError(f.err):
		return target.switchToPoolerSafe(f.err)
	case errors.As(f.err, &pgErr) && pgErr.Code == pgerrcode.ReadOnlySQLTransaction:
		target.current().Reset()
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
