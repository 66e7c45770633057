package audit_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rowgate/rowgate/internal/audit"
	"github.com/rowgate/rowgate/internal/pgtest"
)

// betterAuth is what these cases need of Better Auth's organization
// plugin: its member table in schema better_auth, readable by the role that
// owns rowgate's tables, and todos that may belong to an organization. Every
// pgtest.NewDB already has all three (pgtest.BetterAuthOrganizationTables
// and sql/004), so this only states it, and fails loudly if it ever stops
// being true.
var betterAuth = []string{
	`do $$ begin perform 1 from better_auth.member, public.todos where todos.organization_id = member."organizationId" limit 0; end $$`,
}

// membership is the good shape of issue 11: fn, a SECURITY DEFINER
// function that returns the caller's organization ids from Better Auth's
// member table, with search_path pinned to pg_catalog, pg_temp, owned by
// the table owner, executable by rowgate_app alone, and called by
// todos_select in the InitPlan form. Statements in then run after it, to
// spoil one thing.
func membership(fn string, then ...string) []string {
	stmts := append([]string{}, betterAuth...)
	stmts = append(stmts,
		"create function "+fn+"() returns setof text language sql stable security definer set search_path = pg_catalog, pg_temp"+
			` as $$ select m."organizationId" from better_auth.member m where m."userId" = (select public.app_user_id()) $$`,
		"alter function "+fn+"() owner to "+pgtest.Owner,
		"revoke all on function "+fn+"() from public",
		"grant execute on function "+fn+"() to rowgate_app",
		"alter policy todos_select on todos using (user_id = (select app_user_id()) or organization_id in (select "+fn+"()))",
	)
	return append(stmts, then...)
}

// TestMembershipShapeIsClean: the good shape, in the audited schema or in
// Better Auth's, raises nothing but the info that lists it (and the drift
// from rls/ that changing todos_select is).
func TestMembershipShapeIsClean(t *testing.T) {
	t.Parallel()
	for _, fn := range []string{"public.my_organizations", "better_auth.my_organizations"} {
		t.Run(fn, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			for _, stmt := range membership(fn) {
				db.Exec(t, stmt)
			}
			r := run(t, db, pgtest.Owner, audit.Options{})
			for _, f := range r.Findings {
				if f.Rule != audit.RulePolicyDrift && f.Rule != audit.RuleDefinerFunction {
					t.Errorf("unexpected finding:\n%s", dump(r))
					break
				}
			}
			f := requireFinding(t, r, audit.RuleDefinerFunction, audit.Info, "runs as "+pgtest.Owner)
			if want := "function " + fn + "()"; f.Object != want || len(findings(r, audit.RuleDefinerFunction)) != 1 {
				t.Errorf("want one definer_function finding on %s:\n%s", want, dump(r))
			}
			if !strings.Contains(f.Detail, "called by policies todos_select on public.todos") {
				t.Errorf("detail %q does not name the calling policy", f.Detail)
			}
		})
	}
}

func TestSecurityDefinerSearchPath(t *testing.T) {
	t.Parallel()
	const fn = "public.my_organizations"
	const other = "better_auth.my_organizations"
	set := func(fn, path string) string { return "alter function " + fn + "() set search_path = " + path }
	runRuleCases(t, []ruleCase{
		{name: "NotPinned", setup: membership(fn, "alter function "+fn+"() reset search_path"),
			rule: audit.RuleDefinerSearchPath, sev: audit.Error, detail: "without a search_path setting",
			object: "function " + fn + "()", fix: "SET search_path = pg_catalog, pg_temp"},
		{name: "NotPinnedCalledFromOtherSchema", setup: membership(other, "alter function "+other+"() reset search_path"),
			rule: audit.RuleDefinerSearchPath, sev: audit.Error, detail: "without a search_path setting",
			object: "function " + other + "()"},
		{name: "UserAndPublic", setup: membership(fn, set(fn, `"$user", public`)),
			rule: audit.RuleDefinerSearchPath, sev: audit.Error, detail: `"$user" names whichever schema`,
			object: "function " + fn + "()"},
		{name: "Public", setup: membership(fn, set(fn, "public, pg_temp")),
			rule: audit.RuleDefinerSearchPath, sev: audit.Error, detail: "public is in it",
			object: "function " + fn + "()"},
		{name: "SchemaOthersCanWrite", setup: membership(fn, set(fn, "better_auth, pg_temp"), "grant create on schema better_auth to rowgate_app"),
			rule: audit.RuleDefinerSearchPath, sev: audit.Error, detail: "rowgate_app may create objects in schema better_auth",
			object: "function " + fn + "()"},
		{name: "TempSchemaFirst", setup: membership(fn, set(fn, "better_auth")),
			rule: audit.RuleDefinerSearchPath, sev: audit.Error, detail: "pg_temp is not listed last",
			object: "function " + fn + "()"},
		// Silent:
		{name: "Pinned", setup: membership(fn), rule: audit.RuleDefinerSearchPath},
		{name: "PinnedEmpty", setup: membership(fn, set(fn, "''")), rule: audit.RuleDefinerSearchPath},
		{name: "PinnedToOwnersSchema", setup: membership(fn, set(fn, "better_auth, pg_temp")), rule: audit.RuleDefinerSearchPath},
		{name: "Invoker", setup: []string{"create function todo_count() returns bigint language sql stable as 'select count(*) from public.todos'"},
			rule: audit.RuleDefinerSearchPath},
		{name: "NotCalledOtherSchema", setup: append(append([]string{}, betterAuth...),
			`create function better_auth.member_count() returns bigint language sql security definer as 'select count(*) from better_auth.member'`),
			rule: audit.RuleDefinerSearchPath},
	})
}

func TestFunctionPublicExecute(t *testing.T) {
	t.Parallel()
	const fn = "public.my_organizations"
	const other = "better_auth.my_organizations"
	runRuleCases(t, []ruleCase{
		{name: "Definer", setup: membership(fn, "grant execute on function "+fn+"() to public"),
			rule: audit.RulePublicExecute, sev: audit.Error, detail: "SECURITY DEFINER function, so any role that can connect runs it with the rights of " + pgtest.Owner,
			object: "function " + fn + "()", fix: "REVOKE EXECUTE ON FUNCTION " + fn + "() FROM PUBLIC"},
		{name: "DefinerCalledFromOtherSchema", setup: membership(other, "grant execute on function "+other+"() to public"),
			rule: audit.RulePublicExecute, sev: audit.Error, detail: "SECURITY DEFINER", object: "function " + other + "()"},
		{name: "Invoker", setup: []string{"create function todo_count() returns bigint language sql stable as 'select count(*) from public.todos'"},
			rule: audit.RulePublicExecute, sev: audit.Warn, detail: "PUBLIC may execute it",
			object: "function public.todo_count()", fix: "REVOKE EXECUTE ON FUNCTION public.todo_count() FROM PUBLIC"},
		{name: "InvokerProcedure", setup: []string{"create procedure purge_todos() language sql as 'delete from public.todos'"},
			rule: audit.RulePublicExecute, sev: audit.Warn, object: "procedure public.purge_todos()", fix: "REVOKE EXECUTE ON PROCEDURE"},
		// Silent:
		{name: "DefinerRevoked", setup: membership(fn), rule: audit.RulePublicExecute},
		{name: "InvokerRevoked", setup: []string{
			"create function todo_count() returns bigint language sql stable as 'select count(*) from public.todos'",
			"revoke execute on function todo_count() from public"},
			rule: audit.RulePublicExecute},
		{name: "TriggerFunction", setup: []string{"create function touch() returns trigger language plpgsql as 'begin return new; end'"},
			rule: audit.RulePublicExecute},
		{name: "InvokerInOtherSchema", setup: append(append([]string{}, betterAuth...),
			`create function better_auth.member_count() returns bigint language sql stable as 'select count(*) from better_auth.member'`,
			"alter policy todos_select on todos using (user_id = (select app_user_id()) and (select better_auth.member_count()) >= 0)"),
			rule: audit.RulePublicExecute},
	})
}

func TestDefinerFunctionOwner(t *testing.T) {
	t.Parallel()
	const fn = "public.my_organizations"
	const other = "better_auth.my_organizations"
	runRuleCases(t, []ruleCase{
		{name: "OwnedBySuperuser", setup: membership(fn, "alter function "+fn+"() owner to current_user"),
			rule: audit.RuleDefinerOwner, sev: audit.Warn, detail: "not by " + pgtest.Owner + ", which owns the tables",
			object: "function " + fn + "()", fix: "OWNER TO " + pgtest.Owner},
		{name: "OtherSchemaOwnedBySuperuser", setup: membership(other, "alter function "+other+"() owner to current_user"),
			rule: audit.RuleDefinerOwner, sev: audit.Warn, object: "function " + other + "()"},
		// Silent:
		{name: "OwnedByTableOwner", setup: membership(fn), rule: audit.RuleDefinerOwner},
		{name: "Invoker", setup: []string{"create function todo_count() returns bigint language sql stable as 'select count(*) from public.todos'"},
			rule: audit.RuleDefinerOwner},
	})
}

func TestDefinerFunction(t *testing.T) {
	t.Parallel()
	const other = "better_auth.my_organizations"
	runRuleCases(t, []ruleCase{
		{name: "CalledByPolicy", setup: membership(other),
			rule: audit.RuleDefinerFunction, sev: audit.Info, detail: "runs as " + pgtest.Owner + ", an ordinary role",
			object: "function " + other + "()"},
		{name: "SuperuserOwned", setup: membership(other, "alter function "+other+"() owner to current_user"),
			rule: audit.RuleDefinerFunction, sev: audit.Info, detail: "a superuser, so row level security does not filter what it reads",
			object: "function " + other + "()"},
		{name: "InSchemaNotCalled", setup: []string{
			"create function todo_total() returns bigint language sql stable security definer set search_path = pg_catalog, pg_temp begin atomic select count(*) from public.todos; end"},
			rule: audit.RuleDefinerFunction, sev: audit.Info, detail: "called by no policy of schema public; it reads public.todos",
			object: "function public.todo_total()"},
		// Silent:
		{name: "OtherSchemaNotCalled", setup: append(append([]string{}, betterAuth...),
			`create function better_auth.member_count() returns bigint language sql security definer set search_path = pg_catalog, pg_temp as 'select count(*) from better_auth.member'`),
			rule: audit.RuleDefinerFunction},
		{name: "Invoker", setup: []string{"create function todo_count() returns bigint language sql stable as 'select count(*) from public.todos'"},
			rule: audit.RuleDefinerFunction},
	})
}

// TestDefinerInEveryFormat: a SECURITY DEFINER function a policy calls is
// shown in full in markdown, with who it runs as and which policy calls
// it, and its fields are in the JSON.
func TestDefinerInEveryFormat(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	for _, stmt := range membership("better_auth.my_organizations") {
		db.Exec(t, stmt)
	}
	r := run(t, db, pgtest.Owner, audit.Options{})
	var md, js, text bytes.Buffer
	for _, err := range []error{audit.WriteMarkdown(&md, r), audit.WriteJSON(&js, r), audit.WriteText(&text, r)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []string{
		"| `better_auth.my_organizations()` | **definer** | `pg_catalog, pg_temp` | `" + pgtest.Owner + "` | no |",
		"### SECURITY DEFINER `better_auth.my_organizations()`",
		"Runs as `" + pgtest.Owner + "`. Called by `todos_select on public.todos`.",
		"STABLE SECURITY DEFINER",
		"| info | `definer_function` | function better_auth.my_organizations() |",
	} {
		if !strings.Contains(md.String(), w) {
			t.Errorf("markdown lacks %q", w)
		}
	}
	if !strings.Contains(text.String(), "INFO   definer_function  function better_auth.my_organizations()") {
		t.Errorf("text report:\n%s", text.String())
	}
	var doc struct {
		Functions []audit.Function `json:"functions"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, f := range doc.Functions {
		if f.Signature == "better_auth.my_organizations()" {
			if f.Schema != "better_auth" || !f.SecurityDefiner || f.Owner != pgtest.Owner || f.PublicExecute ||
				len(f.CalledBy) != 1 || f.CalledBy[0] != "todos_select on public.todos" || f.Definition == nil {
				t.Errorf("json function = %+v", f)
			}
			return
		}
	}
	t.Errorf("json functions lack better_auth.my_organizations(): %+v", doc.Functions)
}
