package audit_test

import (
	"strings"
	"testing"

	"github.com/rowgate/rowgate/internal/audit"
	"github.com/rowgate/rowgate/internal/pgtest"
)

// ruleCase builds one state in a fresh migrated database, as the superuser,
// and says which finding the audit (as the table owner) must report, or
// that rule must stay silent.
type ruleCase struct {
	name   string
	setup  []string
	rule   string
	sev    audit.Severity // "" means the rule must report nothing
	detail string         // a substring of the finding's detail
	// object, when set, must be the object of the one and only finding of
	// rule; fix, when set, a substring of its fix.
	object string
	fix    string
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			for _, stmt := range c.setup {
				db.Exec(t, stmt)
			}
			r := run(t, db, pgtest.Owner, audit.Options{})
			if c.sev == "" {
				requireNoFinding(t, r, c.rule)
				return
			}
			f := requireFinding(t, r, c.rule, c.sev, c.detail)
			if c.object == "" {
				return
			}
			if n := len(findings(r, c.rule)); n != 1 || f.Object != c.object {
				t.Fatalf("want exactly one %s finding, on %s; got %d:\n%s", c.rule, c.object, n, dump(r))
			}
			if !strings.Contains(f.Fix, c.fix) {
				t.Errorf("fix %q lacks %q", f.Fix, c.fix)
			}
		})
	}
}

// own makes a table created by the superuser belong to the owner, as a
// migration would, so the drift check can still install rls/.
func own(table string) string { return "alter table " + table + " owner to " + pgtest.Owner }

const mine = "(select app_user_id())"

func TestRLSSwitches(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "RLSDisabled/NewTable", setup: []string{"create table notes (id int primary key)", own("notes")},
			rule: audit.RuleRLSDisabled, sev: audit.Error, detail: "not enabled"},
		{name: "RLSDisabled/Disabled", setup: []string{"alter table todos disable row level security"},
			rule: audit.RuleRLSDisabled, sev: audit.Error},
		{name: "RLSDisabled/EnabledOnly", setup: []string{"create table notes (id int primary key)", own("notes"), "alter table notes enable row level security"},
			rule: audit.RuleRLSDisabled},
		{name: "RLSNotForced/NoForce", setup: []string{"alter table todos no force row level security"},
			rule: audit.RuleRLSNotForced, sev: audit.Error, detail: "owner bypasses"},
		{name: "RLSNotForced/DisabledIsAnotherRule", setup: []string{"alter table todos disable row level security", "alter table todos no force row level security"},
			rule: audit.RuleRLSNotForced},
		{name: "PolicyExistsRLSDisabled/Disabled", setup: []string{"alter table users disable row level security"},
			rule: audit.RulePolicyRLSDisabled, sev: audit.Error, detail: "users_select"},
		{name: "PolicyExistsRLSDisabled/NoPolicies", setup: []string{"create table notes (id int primary key)", own("notes")},
			rule: audit.RulePolicyRLSDisabled},
		{name: "NoPolicy/DeleteDropped", setup: []string{"drop policy todos_delete on todos"},
			rule: audit.RuleNoPolicy, sev: audit.Info, detail: "no permissive DELETE policy applies to rowgate_app"},
		{name: "NoPolicy/OnlyRestrictive", setup: []string{
			"drop policy users_select on users",
			"create policy users_select on users as restrictive for select to rowgate_app using (id = " + mine + ")"},
			rule: audit.RuleNoPolicy, sev: audit.Info, detail: "SELECT"},
		{name: "NoPolicy/OtherRole", setup: []string{
			"drop policy users_update on users",
			"create policy users_update on users for update to " + pgtest.Owner + " using (id = " + mine + ") with check (id = " + mine + ")"},
			rule: audit.RuleNoPolicy, sev: audit.Info, detail: "UPDATE"},
		{name: "NoPolicy/PublicCounts", setup: []string{
			"drop policy todos_delete on todos",
			"create policy todos_delete on todos for delete using (user_id = " + mine + ")"},
			rule: audit.RuleNoPolicy},
		{name: "NoPolicy/AllCounts", setup: []string{
			"drop policy todos_delete on todos", "drop policy todos_select on todos", "drop policy todos_update on todos", "drop policy todos_insert on todos",
			"create policy todos_all on todos for all to rowgate_app using (user_id = " + mine + ") with check (user_id = " + mine + ")"},
			rule: audit.RuleNoPolicy},
	})
}

func TestPolicyAlwaysTrue(t *testing.T) {
	t.Parallel()
	using := func(expr string) []string {
		return []string{"alter policy todos_select on todos using (" + expr + ")"}
	}
	runRuleCases(t, []ruleCase{
		{name: "True", setup: using("true"), rule: audit.RuleAlwaysTrue, sev: audit.Error, detail: "USING true"},
		{name: "OneEqualsOne", setup: using("1 = 1"), rule: audit.RuleAlwaysTrue, sev: audit.Error, detail: "(1 = 1)"},
		{name: "OneLessThanTwo", setup: using("1 < 2"), rule: audit.RuleAlwaysTrue, sev: audit.Error},
		{name: "NotFalse", setup: using("not false"), rule: audit.RuleAlwaysTrue, sev: audit.Error},
		{name: "AccessorIsNullOr", setup: using("app_user_id() is null or user_id = " + mine),
			rule: audit.RuleAlwaysTrue, sev: audit.Error, detail: "the disjunct (app_user_id() IS NULL)"},
		{name: "WrappedAccessorIsNullOr", setup: using(mine + " is null or user_id = " + mine),
			rule: audit.RuleAlwaysTrue, sev: audit.Error, detail: "IS NULL) admits every row"},
		{name: "CurrentSettingIsNullOr", setup: using("current_setting('app.user_id', true) is null or user_id = " + mine),
			rule: audit.RuleAlwaysTrue, sev: audit.Error, detail: "current_setting"},
		{name: "IdentityIsNotNull", setup: using(mine + " is not null"), rule: audit.RuleAlwaysTrue, sev: audit.Error},
		{name: "OwnerEqualsOwner", setup: using("user_id = user_id"), rule: audit.RuleAlwaysTrue, sev: audit.Error, detail: "true for every row"},
		{name: "NestedOr", setup: using("(user_id = " + mine + " and completed) or (true and 2 = 2)"), rule: audit.RuleAlwaysTrue, sev: audit.Error},
		{name: "WithCheckTrue", setup: []string{"alter policy todos_insert on todos with check (true)"},
			rule: audit.RuleAlwaysTrue, sev: audit.Error, detail: "WITH CHECK true"},
		{name: "UncorrelatedExists", setup: using("exists (select 1 from users u where u.id = " + mine + ")"),
			rule: audit.RuleAlwaysTrue, sev: audit.Error},
		// Silent:
		{name: "False", setup: using("false"), rule: audit.RuleAlwaysTrue},
		{name: "OrFalse", setup: using("user_id = " + mine + " or false"), rule: audit.RuleAlwaysTrue},
		{name: "OwnerIsNullOr", setup: using("user_id is null or user_id = " + mine), rule: audit.RuleAlwaysTrue},
		{name: "AndConstant", setup: using("user_id = " + mine + " and true"), rule: audit.RuleAlwaysTrue},
		{name: "CorrelatedExists", setup: using("exists (select 1 from users u where u.id = todos.user_id and u.id = " + mine + ")"),
			rule: audit.RuleAlwaysTrue},
		{name: "Restrictive", setup: []string{"create policy todos_gate on todos as restrictive for select to rowgate_app using (true)"},
			rule: audit.RuleAlwaysTrue},
	})
}

func TestUpdateWithoutCheck(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "Update", setup: []string{
			"drop policy todos_update on todos",
			"create policy todos_update on todos for update to rowgate_app using (user_id = " + mine + ")"},
			rule: audit.RuleUpdateWithoutCheck, sev: audit.Error, detail: "FOR UPDATE"},
		{name: "All", setup: []string{
			"create policy todos_all on todos for all to rowgate_app using (user_id = " + mine + ")"},
			rule: audit.RuleUpdateWithoutCheck, sev: audit.Error, detail: "FOR ALL"},
		{name: "DeleteNeedsNoCheck", setup: []string{
			"create policy todos_delete2 on todos as restrictive for delete to rowgate_app using (user_id = " + mine + ")"},
			rule: audit.RuleUpdateWithoutCheck},
	})
}

func TestIdentityPerRow(t *testing.T) {
	t.Parallel()
	using := func(expr string) []string {
		return []string{"alter policy todos_select on todos using (" + expr + ")"}
	}
	runRuleCases(t, []ruleCase{
		{name: "BareAccessor", setup: using("user_id = app_user_id()"),
			rule: audit.RuleIdentityPerRow, sev: audit.Warn, detail: "calls app_user_id() directly"},
		{name: "BareCurrentSetting", setup: using("user_id = nullif(current_setting('app.user_id', true), '')"),
			rule: audit.RuleIdentityPerRow, sev: audit.Warn, detail: "current_setting()"},
		{name: "BareInWithCheck", setup: []string{"alter policy todos_insert on todos with check (user_id = app_user_id())"},
			rule: audit.RuleIdentityPerRow, sev: audit.Warn, detail: "WITH CHECK"},
		{name: "WrappedCurrentSetting", setup: using("user_id = (select nullif(current_setting('app.user_id', true), ''))"),
			rule: audit.RuleIdentityPerRow},
		{name: "WrappedInAny", setup: using("user_id = any (array[" + mine + "])"),
			rule: audit.RuleIdentityPerRow},
	})
}

func TestMultiplePermissivePolicies(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "SameRole", setup: []string{"create policy todos_select2 on todos for select to rowgate_app using (user_id = " + mine + ")"},
			rule: audit.RuleMultiplePermissive, sev: audit.Warn, detail: "SELECT for rowgate_app: permissive policies todos_select, todos_select2"},
		{name: "PublicAndApp", setup: []string{"create policy todos_public on todos for delete using (user_id = " + mine + ")"},
			rule: audit.RuleMultiplePermissive, sev: audit.Warn, detail: "DELETE for rowgate_app"},
		{name: "AllCoversEveryCommand", setup: []string{"create policy todos_all on todos for all to rowgate_app using (user_id = " + mine + ") with check (user_id = " + mine + ")"},
			rule: audit.RuleMultiplePermissive, sev: audit.Warn, detail: "INSERT for rowgate_app"},
		{name: "PublicAndOtherRole", setup: []string{
			"create policy todos_public on todos for select using (user_id = " + mine + ")",
			"create policy todos_owner on todos for select to " + pgtest.Owner + " using (user_id = " + mine + ")"},
			rule: audit.RuleMultiplePermissive, sev: audit.Warn, detail: "SELECT for " + pgtest.Owner + ": permissive policies todos_owner, todos_public"},
		{name: "RestrictiveDoesNotCount", setup: []string{"create policy todos_gate on todos as restrictive for select to rowgate_app using (not completed)"},
			rule: audit.RuleMultiplePermissive},
		{name: "OtherRoleDoesNotCount", setup: []string{"create policy todos_owner on todos for select to " + pgtest.Owner + " using (user_id = " + mine + ")"},
			rule: audit.RuleMultiplePermissive},
	})
}

func TestUnindexedPolicyColumn(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "IndexDropped", setup: []string{"drop index todos_user_id_created_at_id_idx"},
			rule: audit.RuleUnindexedPolicyColumn, sev: audit.Warn, detail: "todos_delete, todos_insert, todos_select, todos_update"},
		{name: "IndexNotLeading", setup: []string{
			"drop index todos_user_id_created_at_id_idx", "create index todos_created_user on todos (created_at, user_id)"},
			rule: audit.RuleUnindexedPolicyColumn, sev: audit.Warn},
		{name: "ReversedComparison", setup: []string{
			"drop index todos_user_id_created_at_id_idx", "alter policy todos_select on todos using (" + mine + " = user_id)"},
			rule: audit.RuleUnindexedPolicyColumn, sev: audit.Warn, detail: "todos_select"},
		{name: "ColumnUnderCast", setup: []string{
			"create table notes (id int primary key, owner varchar(255))", own("notes"),
			"alter table notes enable row level security", "alter table notes force row level security",
			"create policy notes_select on notes for select to rowgate_app using (owner = " + mine + ")"},
			rule: audit.RuleUnindexedPolicyColumn, sev: audit.Warn, detail: "notes_select"},
		{name: "PlainIndexCounts", setup: []string{
			"drop index todos_user_id_created_at_id_idx", "create index todos_user on todos (user_id)"},
			rule: audit.RuleUnindexedPolicyColumn},
	})
}

func TestViewNotSecurityInvoker(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "OwnerRights", setup: []string{"create view todo_titles as select id, title from todos"},
			rule: audit.RuleViewNotInvoker, sev: audit.Error, detail: "owner's rights"},
		{name: "InvokerOff", setup: []string{"create view todo_titles with (security_invoker = false) as select id, title from todos"},
			rule: audit.RuleViewNotInvoker, sev: audit.Error},
		{name: "Invoker", setup: []string{"create view todo_titles with (security_invoker = on) as select id, title from todos"},
			rule: audit.RuleViewNotInvoker},
	})
}

func TestPolicyDrift(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "Roles", setup: []string{"alter policy todos_select on todos to public"},
			rule: audit.RulePolicyDrift, sev: audit.Error, detail: "roles are public, rls/ says rowgate_app"},
		{name: "Using", setup: []string{"alter policy todos_select on todos using (user_id = " + mine + " or completed)"},
			rule: audit.RulePolicyDrift, sev: audit.Error, detail: "USING is ((user_id"},
		{name: "WithCheck", setup: []string{"alter policy todos_update on todos with check (true)"},
			rule: audit.RulePolicyDrift, sev: audit.Error, detail: "WITH CHECK is true"},
		{name: "Missing", setup: []string{"drop policy todos_delete on todos"},
			rule: audit.RulePolicyDrift, sev: audit.Error, detail: "missing from the database"},
		{name: "Extra", setup: []string{"create policy todos_gate on todos as restrictive for select to rowgate_app using (user_id = " + mine + ")"},
			rule: audit.RulePolicyDrift, sev: audit.Error, detail: "not in rls/"},
		{name: "Command", setup: []string{
			"drop policy todos_delete on todos",
			"create policy todos_delete on todos for all to rowgate_app using (user_id = " + mine + ") with check (user_id = " + mine + ")"},
			rule: audit.RulePolicyDrift, sev: audit.Error, detail: "command is ALL, rls/ says DELETE"},
		{name: "Kind", setup: []string{
			"drop policy todos_delete on todos",
			"create policy todos_delete on todos as restrictive for delete to rowgate_app using (user_id = " + mine + ")"},
			rule: audit.RulePolicyDrift, sev: audit.Error, detail: "kind is restrictive"},
		{name: "SchemaBehindRLS", setup: []string{"alter table todos rename to tasks"},
			rule: audit.RulePolicyDrift, sev: audit.Error, detail: "rls/ does not install"},
		{name: "TableOwnedByAnother", setup: []string{
			"create table notes (id int primary key)", "alter table notes enable row level security",
			"create policy notes_none on notes using (false)"},
			rule: audit.RulePolicyDrift, sev: audit.Warn, detail: "drift not checked"},
	})
}

// membershipFunctions are the ways a policy might ask Better Auth's member
// table whether the caller belongs to an organization: per organization
// (is_member), as an array (my_organization_ids), as a set
// (my_organizations), behind an operator (===), and an immutable helper.
var membershipFunctions = []string{
	`create function is_member(org text) returns boolean language sql stable security definer set search_path = pg_catalog, pg_temp
	 as $$ select exists (select 1 from better_auth.member m where m."organizationId" = org and m."userId" = (select public.app_user_id())) $$`,
	`create function my_organization_ids() returns text[] language sql stable security definer set search_path = pg_catalog, pg_temp
	 as $$ select array(select m."organizationId" from better_auth.member m where m."userId" = (select public.app_user_id())) $$`,
	`create function my_organizations() returns setof text language sql stable security definer set search_path = pg_catalog, pg_temp
	 as $$ select m."organizationId" from better_auth.member m where m."userId" = (select public.app_user_id()) $$`,
	`create function in_org(org text, who text) returns boolean language sql stable
	 as $$ select exists (select 1 from better_auth.member m where m."organizationId" = org and m."userId" = who) $$`,
	"create operator === (leftarg = text, rightarg = text, function = in_org)",
	"create function norm(s text) returns text language sql immutable as 'select lower(s)'",
}

func TestPolicyPerRowCall(t *testing.T) {
	t.Parallel()
	using := func(expr string) []string {
		stmts := append(append([]string{}, betterAuth...), membershipFunctions...)
		return append(stmts, "alter policy todos_select on todos using ("+expr+")")
	}
	const object = "policy todos_select on public.todos"
	runRuleCases(t, []ruleCase{
		{name: "RowArgument", setup: using("user_id = " + mine + " or is_member(organization_id)"),
			rule: audit.RulePerRowCall, sev: audit.Warn, detail: "calls is_member() with a column of the row, once per row; it is a stable function in sql",
			object: object, fix: "organization_id IN (SELECT f())"},
		{name: "RowArgumentInCorrelatedSubselect", setup: using("user_id = " + mine + " or exists (select 1 where is_member(todos.organization_id))"),
			rule: audit.RulePerRowCall, sev: audit.Warn, detail: "calls is_member() with a column of the row", object: object},
		{name: "HoistableArray", setup: using("organization_id = any (my_organization_ids())"),
			rule: audit.RulePerRowCall, sev: audit.Warn, detail: "calls my_organization_ids() once per row, though its arguments read no column of the row",
			object: object, fix: "= ANY ((select my_organization_ids(...))::text[])"},
		{name: "HoistableBuiltin", setup: using("user_id = " + mine + " and created_at <= now() and created_at > now() - interval '1 year'"),
			rule: audit.RulePerRowCall, sev: audit.Warn, detail: "calls now() once per row", object: object},
		{name: "HoistableWithConstantArgument", setup: using("user_id = " + mine + " and is_member('acme')"),
			rule: audit.RulePerRowCall, sev: audit.Warn, detail: "calls is_member() once per row", object: object, fix: "(select is_member(...))"},
		{name: "InWithCheck", setup: append(using("user_id = "+mine), "alter policy todos_insert on todos with check (user_id = "+mine+" or is_member(organization_id))"),
			rule: audit.RulePerRowCall, sev: audit.Warn, detail: "WITH CHECK", object: "policy todos_insert on public.todos"},
		// Silent:
		{name: "InSubselect", setup: using("user_id = " + mine + " or organization_id in (select my_organizations())"), rule: audit.RulePerRowCall},
		{name: "AnyOfScalarSubselect", setup: using("organization_id = any ((select my_organization_ids())::text[])"), rule: audit.RulePerRowCall},
		{name: "AnyOfArraySubselect", setup: using("organization_id = any (array(select my_organizations()))"), rule: audit.RulePerRowCall},
		{name: "ScalarSubselect", setup: using("user_id = " + mine + " and (select is_member('acme'))"), rule: audit.RulePerRowCall},
		{name: "Operator", setup: using("organization_id === " + mine), rule: audit.RulePerRowCall},
		{name: "ImmutableRowArgument", setup: using("user_id = " + mine + " and norm(title) <> ''"), rule: audit.RulePerRowCall},
		{name: "BuiltinRowArgument", setup: using("user_id = " + mine + " and to_char(created_at, 'YYYY') <> ''"), rule: audit.RulePerRowCall},
		{name: "CastsAndSyntax", setup: using("user_id = " + mine + " and created_at::date <= '2100-01-01'::timestamptz::date and extract(year from created_at) > 2000"), rule: audit.RulePerRowCall},
		{name: "IdentityIsAnotherRule", setup: using("user_id = app_user_id()"), rule: audit.RulePerRowCall},
	})
}
