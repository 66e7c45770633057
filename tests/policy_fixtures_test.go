package tests

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowgate/rowgate/internal/pgtest"
)

// Fixture rows: alice owns 2 todos, bob 3, dave none. The counts differ so
// that a count of affected rows also says whose rows they were. carol does
// not exist yet.
const (
	alice     = "alice0000000000000000000000000aa"
	bob       = "bob00000000000000000000000000bbb"
	carol     = "carol000000000000000000000000ccc"
	dave      = "dave0000000000000000000000000ddd"
	aliceTodo = "00000000-0000-4000-8000-00000000000a"
	bobTodo   = "00000000-0000-4000-8000-00000000000b"
)

// probeRole is a member of rowgate_app that also holds every table
// privilege, so the policies can be tested without the column grants'
// help: what it cannot do, only a policy stops.
const probeRole = "rowgate_probe"

// seed creates the fixtures as the superuser, bypassing RLS, and the probe.
func seed(t *testing.T, db *pgtest.DB) {
	t.Helper()
	db.Exec(t, `insert into users (id, email, name) values ($1, 'alice@example.com', 'Alice'), ($2, 'bob@example.com', 'Bob'), ($3, null, null)`, alice, bob, dave)
	db.Exec(t, `insert into todos (id, user_id, title) values
		($1, $2, 'alice''s todo'), (gen_random_uuid(), $2, 'alice''s other todo'),
		($3, $4, 'bob''s todo'), (gen_random_uuid(), $4, 'bob''s second'), (gen_random_uuid(), $4, 'bob''s third')`,
		aliceTodo, alice, bobTodo, bob)
	// Idempotency keys: alice 1, bob 2.
	db.Exec(t, `insert into idempotency_keys (user_id, key, fingerprint, response, expires_at) values
		($1, 'alice-key-1', sha256('a'), '{}', now() + interval '1 day'),
		($2, 'bob-key-1', sha256('b'), '{}', now() + interval '1 day'),
		($2, 'bob-key-2', sha256('c'), '{}', now() + interval '1 day')`, alice, bob)
	db.CreateRole(t, probeRole)
	db.Exec(t, "grant rowgate_app to "+probeRole)
	db.Exec(t, "grant select, insert, update, delete on users, todos, idempotency_keys to "+probeRole)
}

// actor is a real database login in a particular identity state.
type actor struct {
	name string
	role func(db *pgtest.DB) string
	// before runs on the connection before the case's transaction.
	before func(ctx context.Context, conn *pgx.Conn) error
	// identity is set with set_config(..., true) inside the case's
	// transaction; nil sets nothing.
	identity *string
}

func ptr(s string) *string { return &s }

func loginAs(role string) func(*pgtest.DB) string { return func(*pgtest.DB) string { return role } }

var actors = []actor{
	{name: "owner", role: loginAs(pgtest.App), identity: ptr(alice)},
	{name: "other_user", role: loginAs(pgtest.App), identity: ptr(bob)},
	{name: "no_identity", role: loginAs(pgtest.App)},
	{name: "empty_identity", role: loginAs(pgtest.App), identity: ptr("")},
	{name: "after_tx_ended", role: loginAs(pgtest.App), before: func(ctx context.Context, conn *pgx.Conn) error {
		// A previous transaction on this connection set alice, then ended.
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "select set_config('app.user_id', $1, true)", alice)
			return err
		})
	}},
	{name: "table_owner", role: loginAs(pgtest.Owner), identity: ptr(alice)},
	{name: "superuser", role: func(db *pgtest.DB) string { return db.Superuser() }, identity: ptr(alice)},
	{name: "probe_all_grants", role: loginAs(probeRole), identity: ptr(alice)},
}

// outcome is what a statement did: for a query (SELECT, or DML with
// RETURNING) the values of its first column, sorted; for DML without
// RETURNING the number of rows it affected; or the SQLSTATE it failed with.
type outcome struct {
	rows     []string
	affected int64
	code     string
}

func (o outcome) String() string {
	switch {
	case o.code != "":
		return "SQLSTATE " + o.code
	case o.rows != nil:
		return "rows " + formatRows(o.rows)
	}
	return fmt.Sprintf("%d rows affected", o.affected)
}

func formatRows(rows []string) string {
	if len(rows) == 0 {
		return "[]"
	}
	s := "["
	for i, r := range rows {
		if i > 0 {
			s += " "
		}
		s += r
	}
	return s + "]"
}

// runAs runs sql as a in its own transaction, which is rolled back.
func runAs(t *testing.T, db *pgtest.DB, a actor, sql string) outcome {
	t.Helper()
	ctx := context.Background()
	conn := db.Conn(t, a.role(db))
	if a.before != nil {
		if err := a.before(ctx, conn); err != nil {
			t.Fatalf("%s: before: %v", a.name, err)
		}
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if a.identity != nil {
		if _, err := tx.Exec(ctx, "select set_config('app.user_id', $1, true)", *a.identity); err != nil {
			t.Fatal(err)
		}
	}
	if !isQuery(sql) {
		tag, err := tx.Exec(ctx, sql)
		if err != nil {
			return errOutcome(t, err)
		}
		return outcome{affected: tag.RowsAffected()}
	}
	rows, err := tx.Query(ctx, sql)
	if err != nil {
		return errOutcome(t, err)
	}
	got := []string{}
	for rows.Next() {
		var v *string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v == nil {
			got = append(got, "NULL")
		} else {
			got = append(got, *v)
		}
	}
	if err := rows.Err(); err != nil {
		return errOutcome(t, err)
	}
	sort.Strings(got)
	return outcome{rows: got}
}

func isQuery(sql string) bool {
	s := strings.ToLower(sql)
	return strings.HasPrefix(strings.TrimSpace(s), "select") || strings.Contains(s, " returning ")
}

func errOutcome(t *testing.T, err error) outcome {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("non-PostgreSQL error: %v", err)
	}
	return outcome{code: pgErr.Code}
}
