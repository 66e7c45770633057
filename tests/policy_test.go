package tests

import (
	"reflect"
	"testing"

	"github.com/rowgate/rowgate/internal/pgtest"
)

func rows(ids ...string) outcome { return outcome{rows: append([]string{}, ids...)} }
func affected(n int64) outcome   { return outcome{affected: n} }
func fails(code string) outcome  { return outcome{code: code} }

// Codes the matrix expects.
const (
	insufficientPrivilege = "42501" // RLS WITH CHECK, or a missing column grant
	uniqueViolation       = "23505"
)

var none = rows()

// policyCase is one statement and what every actor must get from it.
type policyCase struct {
	table, command, name, sql string
	want                      map[string]outcome
}

// The actors' expectations in the order of the actors slice: owner (alice),
// other_user (bob), no_identity, empty_identity, after_tx_ended,
// table_owner, superuser, probe_all_grants (alice with every grant).
func expect(o ...outcome) map[string]outcome {
	if len(o) != len(actors) {
		panic("expect: one outcome per actor")
	}
	m := map[string]outcome{}
	for i, a := range actors {
		m[a.name] = o[i]
	}
	return m
}

var denied = fails(insufficientPrivilege)

// policyMatrix covers every table × command × actor, in two kinds of
// statement:
//   - "Every…" statements name no column outside SET and return nothing, so
//     PostgreSQL applies only the policy of that command: the row counts
//     (alice 2 todos, bob 3, 5 in all; 3 users) show which rows it let
//     through. These catch a single broken policy.
//   - "…ByID" and "Returning…" statements are what the API runs: they also
//     pass through the SELECT policy, and return the owner column of the
//     rows they touched.
var policyMatrix = []policyCase{
	//                                                                  owner            other_user      no_identity  empty_identity after_tx  table_owner  superuser         probe
	{"todos", "SELECT", "ReadAll", `select user_id from todos`, expect(rows(alice, alice), rows(bob, bob, bob), none, none, none, none, rows(alice, alice, bob, bob, bob), rows(alice, alice))},
	{"todos", "SELECT", "ReadOthersByID", `select user_id from todos where id = '` + bobTodo + `'`, expect(none, rows(bob), none, none, none, none, rows(bob), none)},
	{"todos", "INSERT", "InsertOwnDefaultOwner", `insert into todos (title) values ('new')`, expect(affected(1), affected(1), denied, denied, denied, denied, affected(1), affected(1))},
	{"todos", "INSERT", "InsertForAnotherUser", `insert into todos (user_id, title) values ('` + bob + `', 'planted')`, expect(denied, affected(1), denied, denied, denied, denied, affected(1), denied)},
	{"todos", "INSERT", "ReturningDefaultOwner", `insert into todos (title) values ('new') returning user_id`, expect(rows(alice), rows(bob), denied, denied, denied, denied, rows(alice), rows(alice))},
	{"todos", "UPDATE", "UpdateEvery", `update todos set completed = true`, expect(affected(2), affected(3), affected(0), affected(0), affected(0), affected(0), affected(5), affected(2))},
	{"todos", "UPDATE", "UpdateOthersByID", `update todos set title = 'pwned' where id = '` + bobTodo + `' returning user_id`, expect(none, rows(bob), none, none, none, none, rows(bob), none)},
	// rowgate_app has no UPDATE grant on user_id; the probe has one, so for
	// it only the WITH CHECK clause stops the move.
	{"todos", "UPDATE", "MoveEveryToAnotherUser", `update todos set user_id = '` + dave + `'`, expect(denied, denied, denied, denied, denied, affected(0), affected(5), denied)},
	{"todos", "DELETE", "DeleteEvery", `delete from todos`, expect(affected(2), affected(3), affected(0), affected(0), affected(0), affected(0), affected(5), affected(2))},
	{"todos", "DELETE", "DeleteOthersByID", `delete from todos where id = '` + bobTodo + `' returning user_id`, expect(none, rows(bob), none, none, none, none, rows(bob), none)},

	// rowgate_app has no UPDATE grant on idempotency_keys at all (a recorded
	// response never changes): only the probe shows the UPDATE policy.
	{"idempotency_keys", "SELECT", "ReadAll", `select user_id from idempotency_keys`, expect(rows(alice), rows(bob, bob), none, none, none, none, rows(alice, bob, bob), rows(alice))},
	{"idempotency_keys", "SELECT", "ReadOthersByKey", `select user_id from idempotency_keys where key = 'bob-key-1'`, expect(none, rows(bob), none, none, none, none, rows(bob), none)},
	{"idempotency_keys", "INSERT", "InsertOwnDefaultOwner", `insert into idempotency_keys (key, fingerprint, response, expires_at) values ('new', sha256('n'), '{}', now() + interval '1 day')`,
		expect(affected(1), affected(1), denied, denied, denied, denied, affected(1), affected(1))},
	{"idempotency_keys", "INSERT", "InsertForAnotherUser", `insert into idempotency_keys (user_id, key, fingerprint, response, expires_at) values ('` + bob + `', 'planted', sha256('p'), '{}', now() + interval '1 day')`,
		expect(denied, affected(1), denied, denied, denied, denied, affected(1), denied)},
	{"idempotency_keys", "UPDATE", "UpdateEvery", `update idempotency_keys set expires_at = now() + interval '2 days'`, expect(denied, denied, denied, denied, denied, affected(0), affected(3), affected(1))},
	{"idempotency_keys", "UPDATE", "MoveEveryToAnotherUser", `update idempotency_keys set user_id = '` + dave + `'`, expect(denied, denied, denied, denied, denied, affected(0), affected(3), denied)},
	{"idempotency_keys", "DELETE", "DeleteEvery", `delete from idempotency_keys`, expect(affected(1), affected(2), affected(0), affected(0), affected(0), affected(0), affected(3), affected(1))},
	{"idempotency_keys", "DELETE", "DeleteOthersByKey", `delete from idempotency_keys where key = 'bob-key-1' returning user_id`, expect(none, rows(bob), none, none, none, none, rows(bob), none)},

	{"users", "SELECT", "ReadAll", `select id from users`, expect(rows(alice), rows(bob), none, none, none, none, rows(alice, bob, dave), rows(alice))},
	{"users", "INSERT", "InsertAnotherUser", `insert into users (id) values ('` + carol + `')`, expect(denied, denied, denied, denied, denied, denied, affected(1), denied)},
	{"users", "INSERT", "UpsertSelf", `insert into users (id, name) values (coalesce(app_user_id(), 'nobody'), 'me')
		on conflict (id) do update set name = excluded.name returning id`, expect(rows(alice), rows(bob), denied, denied, denied, denied, rows(alice), rows(alice))},
	{"users", "UPDATE", "UpdateEvery", `update users set name = 'renamed'`, expect(affected(1), affected(1), affected(0), affected(0), affected(0), affected(0), affected(3), affected(1))},
	{"users", "UPDATE", "UpdateOthersByID", `update users set name = 'pwned' where id = '` + bob + `' returning id`, expect(none, rows(bob), none, none, none, none, rows(bob), none)},
	// A SET that reads no column keeps the SELECT policy out of it, so for
	// the probe only users_update's WITH CHECK stops the change. (The
	// superuser renames alice, then collides renaming bob.)
	{"users", "UPDATE", "ChangeEveryID", `update users set id = '` + carol + `'`, expect(denied, denied, denied, denied, denied, affected(0), fails(uniqueViolation), denied)},
	{"users", "DELETE", "DeleteEvery", `delete from users`, expect(affected(1), affected(1), affected(0), affected(0), affected(0), affected(0), affected(3), affected(1))},
	{"users", "DELETE", "DeleteOthersByID", `delete from users where id = '` + bob + `' returning id`, expect(none, rows(bob), none, none, none, none, rows(bob), none)},
}

// TestPolicyMatrix runs every statement as every actor, each in its own
// rolled-back transaction on a fresh connection.
func TestPolicyMatrix(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	seed(t, db)
	for _, c := range policyMatrix {
		t.Run(c.table+"/"+c.command+"/"+c.name, func(t *testing.T) {
			t.Parallel()
			for _, a := range actors {
				want := c.want[a.name]
				got := runAs(t, db, a, c.sql)
				if got.code != want.code || got.affected != want.affected || !reflect.DeepEqual(got.rows, want.rows) {
					t.Errorf("as %s: got %v, want %v", a.name, got, want)
				}
			}
		})
	}
}

// TestPolicyMatrixIsComplete fails when a table or command has no case.
func TestPolicyMatrixIsComplete(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{}
	for _, c := range policyMatrix {
		covered[c.table+" "+c.command] = true
	}
	for _, table := range appTables(t) {
		for _, cmd := range []string{"SELECT", "INSERT", "UPDATE", "DELETE"} {
			if !covered[table+" "+cmd] {
				t.Errorf("policy matrix has no %s case for table %s", cmd, table)
			}
		}
	}
}
