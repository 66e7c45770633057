package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

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

// run is the one door into the database. It sends, in one pipelined batch
// and therefore one implicit transaction and one round trip:
//
//  1. set_config('app.user_id', caller.ID, true) and the statement timeout;
//  2. for a caller not known to exist yet, the provisioning insert;
//  3. the statements build queues.
//
// Either all of them take effect or none does. build may be called twice
// (after errUserMissing), so it must reset whatever its callbacks fill in.
func (db *DB) run(ctx context.Context, caller todo.Caller, build func(b *pgx.Batch)) error {
	if caller.ID == "" {
		// Fail closed: never send a request without an identity.
		return todo.ErrNotFound
	}
	provision := !db.known.has(caller.ID)
	err := db.send(ctx, caller, provision, build)
	if errors.Is(err, errUserMissing) && !provision {
		db.known.forget(caller.ID)
		provision = true
		err = db.send(ctx, caller, provision, build)
	}
	if err != nil {
		return classify(err)
	}
	if provision {
		db.known.add(caller.ID)
	}
	return nil
}

func (db *DB) send(ctx context.Context, caller todo.Caller, provision bool, build func(b *pgx.Batch)) error {
	b := &pgx.Batch{}
	b.Queue(setIdentity, caller.ID, db.timeout)
	if provision {
		b.Queue(provisionUser, caller.ID, nullable(caller.Email), nullable(caller.Name))
	}
	build(b)
	err := db.pool.SendBatch(ctx, b).Close()
	if isMissingOwner(err) {
		return errUserMissing
	}
	return err
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
