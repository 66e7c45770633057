package tests

import (
	"reflect"
	"slices"
	"testing"

	"github.com/rowgate/rowgate/internal/pgtest"
)

// The organization matrix: todos shared through Better Auth's organization
// plugin, every command, as the actors an organization has, each a real
// login (rowgate_app, or the probe that holds every table privilege) with
// its own identity. Better Auth's tables say:
//
//	acme: olga owner, adam "member,admin", mia member; exa was a member
//	      and has been removed (her member row is gone)
//	beta: nina owner, olga member
//
// and the todos are, as "organization:creator" (personal todos as
// "-:owner"):
//
//	acme:olga (orgOlga), acme:mia (orgMia), acme:mia, acme:exa (orgExa),
//	beta:nina, -:olga, -:mia (miaOwn), -:exa, -:nina
const (
	orgOlga = "00000000-0000-4000-8000-00000000a001"
	orgMia  = "00000000-0000-4000-8000-00000000a002"
	orgExa  = "00000000-0000-4000-8000-00000000a003"
	miaOwn  = "00000000-0000-4000-8000-00000000c001"
)

func seedOrgMatrix(t *testing.T, db *pgtest.DB) {
	t.Helper()
	db.Exec(t, `insert into better_auth.organization (id, name, slug, "createdAt") values ('acme', 'Acme', 'acme', now()), ('beta', 'Beta', 'beta', now())`)
	db.Exec(t, `insert into better_auth.member (id, "organizationId", "userId", role, "createdAt") values
		('m1', 'acme', $1, 'owner', now()), ('m2', 'acme', $2, 'member,admin', now()), ('m3', 'acme', $3, 'member', now()),
		('m4', 'acme', $4, 'member', now()), ('m5', 'beta', $5, 'owner', now()), ('m6', 'beta', $1, 'member', now())`,
		olga, adam, mia, exa, nina)
	db.Exec(t, `delete from better_auth.member where id = 'm4'`) // exa is removed
	db.Exec(t, `insert into users (id) values ($1), ($2), ($3), ($4), ($5)`, olga, adam, mia, exa, nina)
	db.Exec(t, `insert into todos (id, user_id, organization_id, title) values
		($1, $5, 'acme', 'o'), ($2, $6, 'acme', 'm'), (gen_random_uuid(), $6, 'acme', 'm2'), ($3, $7, 'acme', 'x'),
		(gen_random_uuid(), $8, 'beta', 'n'),
		(gen_random_uuid(), $5, null, 'po'), ($4, $6, null, 'pm'), (gen_random_uuid(), $7, null, 'px'), (gen_random_uuid(), $8, null, 'pn')`,
		orgOlga, orgMia, orgExa, miaOwn, olga, mia, exa, nina)
	db.CreateRole(t, probeRole)
	db.Exec(t, "grant rowgate_app to "+probeRole)
	db.Exec(t, "grant select, insert, update, delete on users, todos, idempotency_keys to "+probeRole)
}

var orgActors = []actor{
	{name: "org_owner", role: loginAs(pgtest.App), identity: ptr(olga)},
	{name: "org_admin", role: loginAs(pgtest.App), identity: ptr(adam)},
	{name: "org_member", role: loginAs(pgtest.App), identity: ptr(mia)},
	{name: "ex_member", role: loginAs(pgtest.App), identity: ptr(exa)},
	{name: "non_member", role: loginAs(pgtest.App), identity: ptr(nina)},
	{name: "probe_member", role: loginAs(probeRole), identity: ptr(mia)},
}

// expectOrg takes one outcome per orgActors entry: org_owner (olga),
// org_admin (adam), org_member (mia), ex_member (exa), non_member (nina),
// probe_member (mia with every table privilege).
func expectOrg(o ...outcome) map[string]outcome {
	if len(o) != len(orgActors) {
		panic("expectOrg: one outcome per actor")
	}
	m := map[string]outcome{}
	for i, a := range orgActors {
		if len(o[i].rows) > 1 {
			o[i].rows = slices.Sorted(slices.Values(o[i].rows))
		}
		m[a.name] = o[i]
	}
	return m
}

// who renders each row a statement touches as "organization:creator".
const who = `coalesce(organization_id, '-') || ':' || user_id`

var (
	acmeAll  = []string{"acme:" + exa, "acme:" + mia, "acme:" + mia, "acme:" + olga}
	withRows = func(base []string, more ...string) outcome {
		return rows(append(append([]string{}, base...), more...)...)
	}
)

// orgMatrix follows policyMatrix's two kinds of statement: "Every…" ones
// meet only the policy of their command, the "…ByID" and "Returning…" ones
// also todos_select, as the API's do.
var orgMatrix = []policyCase{
	//                                                 org_owner (olga)  org_admin (adam)  org_member (mia)  ex_member (exa)  non_member (nina)  probe_member (mia)
	{"todos", "SELECT", "ReadAll", `select ` + who + ` from todos`,
		expectOrg(withRows(acmeAll, "beta:"+nina, "-:"+olga), rows(acmeAll...), withRows(acmeAll, "-:"+mia), rows("-:"+exa), rows("beta:"+nina, "-:"+nina), withRows(acmeAll, "-:"+mia))},
	{"todos", "SELECT", "ReadOrgTodoByID", `select ` + who + ` from todos where id = '` + orgMia + `'`,
		expectOrg(rows("acme:"+mia), rows("acme:"+mia), rows("acme:"+mia), none, none, rows("acme:"+mia))},
	{"todos", "SELECT", "ReadOwnOrgTodoAfterRemoval", `select ` + who + ` from todos where id = '` + orgExa + `'`,
		expectOrg(rows("acme:"+exa), rows("acme:"+exa), rows("acme:"+exa), none, none, rows("acme:"+exa))},
	{"todos", "SELECT", "ReadOrgMatesPersonalByID", `select ` + who + ` from todos where id = '` + miaOwn + `'`,
		expectOrg(none, none, rows("-:"+mia), none, none, rows("-:"+mia))},

	{"todos", "INSERT", "InsertIntoOrg", `insert into todos (title, organization_id) values ('new', 'acme')`,
		expectOrg(affected(1), affected(1), affected(1), denied, denied, affected(1))},
	{"todos", "INSERT", "InsertIntoNoSuchOrg", `insert into todos (title, organization_id) values ('new', 'nope')`,
		expectOrg(denied, denied, denied, denied, denied, denied)},
	{"todos", "INSERT", "InsertIntoOrgAsAnotherMember", `insert into todos (user_id, title, organization_id) values ('` + olga + `', 'planted', 'acme')`,
		expectOrg(affected(1), denied, denied, denied, denied, denied)},
	{"todos", "INSERT", "ReturningOrgTodo", `insert into todos (title, organization_id) values ('new', 'beta') returning ` + who,
		expectOrg(rows("beta:"+olga), denied, denied, denied, rows("beta:"+nina), denied)},

	{"todos", "UPDATE", "UpdateEvery", `update todos set completed = true`,
		expectOrg(affected(6), affected(4), affected(5), affected(1), affected(2), affected(5))},
	{"todos", "UPDATE", "UpdateOrgTodoByID", `update todos set title = 'edited' where id = '` + orgOlga + `' returning ` + who,
		expectOrg(rows("acme:"+olga), rows("acme:"+olga), rows("acme:"+olga), none, none, rows("acme:"+olga))},
	// Moving: the new row must pass the same test as a visible one.
	{"todos", "UPDATE", "MoveEveryIntoAcme", `update todos set organization_id = 'acme'`,
		expectOrg(affected(6), affected(4), affected(5), denied, denied, affected(5))},
	{"todos", "UPDATE", "MoveEveryToPersonal", `update todos set organization_id = null`,
		expectOrg(denied, denied, denied, affected(1), affected(2), denied)},
	{"todos", "UPDATE", "MoveOwnOrgTodoToPersonal", `update todos set organization_id = null where id = '` + orgMia + `' returning ` + who,
		expectOrg(denied, denied, rows("-:"+mia), none, none, rows("-:"+mia))},
	{"todos", "UPDATE", "MoveOrgTodoToOtherOrg", `update todos set organization_id = 'beta' where id = '` + orgOlga + `' returning ` + who,
		expectOrg(rows("beta:"+olga), denied, denied, none, none, denied)},
	// rowgate_app has no UPDATE grant on user_id. With one (the probe), no
	// policy could stop a member from naming another creator of an
	// organization's todo: WITH CHECK sees only the new row. The column
	// grant is what keeps the creator fixed; a personal todo stays safe
	// either way (its new owner must be the caller).
	{"todos", "UPDATE", "ChangeOrgTodoCreator", `update todos set user_id = '` + mia + `' where id = '` + orgOlga + `'`,
		expectOrg(denied, denied, denied, denied, denied, affected(1))},
	{"todos", "UPDATE", "GiveAwayPersonalIntoOrg", `update todos set user_id = '` + olga + `' where id = '` + miaOwn + `'`,
		expectOrg(denied, denied, denied, denied, denied, denied)},

	{"todos", "DELETE", "DeleteEvery", `delete from todos`,
		expectOrg(affected(5), affected(4), affected(3), affected(1), affected(2), affected(3))},
	{"todos", "DELETE", "DeleteOrgTodoOfOwnerByID", `delete from todos where id = '` + orgOlga + `' returning ` + who,
		expectOrg(rows("acme:"+olga), rows("acme:"+olga), none, none, none, none)},
	{"todos", "DELETE", "DeleteRemovedMembersTodoByID", `delete from todos where id = '` + orgExa + `' returning ` + who,
		expectOrg(rows("acme:"+exa), rows("acme:"+exa), none, none, none, none)},
	{"todos", "DELETE", "DeleteOwnOrgTodoByID", `delete from todos where id = '` + orgMia + `' returning ` + who,
		expectOrg(rows("acme:"+mia), rows("acme:"+mia), rows("acme:"+mia), none, none, rows("acme:"+mia))},
}

// TestOrgPolicyMatrix runs every organization statement as every actor,
// each in its own rolled-back transaction on a fresh connection.
func TestOrgPolicyMatrix(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	seedOrgMatrix(t, db)
	for _, c := range orgMatrix {
		t.Run(c.table+"/"+c.command+"/"+c.name, func(t *testing.T) {
			t.Parallel()
			for _, a := range orgActors {
				want := c.want[a.name]
				got := runAs(t, db, a, c.sql)
				if got.code != want.code || got.affected != want.affected || !reflect.DeepEqual(got.rows, want.rows) {
					t.Errorf("as %s: got %v, want %v", a.name, got, want)
				}
			}
		})
	}
}

// TestOrgPolicyMatrixIsComplete fails when a command on todos has no
// organization case.
func TestOrgPolicyMatrixIsComplete(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{}
	for _, c := range orgMatrix {
		covered[c.command] = true
	}
	for _, cmd := range []string{"SELECT", "INSERT", "UPDATE", "DELETE"} {
		if !covered[cmd] {
			t.Errorf("the organization matrix has no %s case", cmd)
		}
	}
}
