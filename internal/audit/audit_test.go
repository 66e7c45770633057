package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate/internal/audit"
	"github.com/rowgate/rowgate/internal/pgtest"
)

func TestCleanDatabaseHasNoFindings(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	for _, role := range []string{pgtest.Owner, db.Superuser()} {
		r := run(t, db, role, audit.Options{})
		// The one finding a clean database has is the info that lists
		// app_memberships(), a SECURITY DEFINER function, for review.
		if len(r.Findings) != 1 || !isBaseline(r.Findings[0]) || r.HasErrors() {
			t.Errorf("audit as %s of a freshly migrated database:\n%s", role, dump(r))
		}
		if !r.DriftChecked {
			t.Errorf("audit as %s: drift not checked", role)
		}
		if len(r.Tables) < 2 || r.AuditedAs != role || r.Schema != "public" || !r.AppRole.Exists {
			t.Errorf("audit as %s: report header %+v", role, r)
		}
	}
}

// TestReadOnlyRoles audits as roles that may read the catalogs but not
// install rls/: the audit still runs, and only says drift went unchecked.
func TestReadOnlyRoles(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	reader := probeRole(t, db, "reader")
	for _, role := range []string{reader, pgtest.App} {
		r := run(t, db, role, audit.Options{})
		requireFinding(t, r, audit.RulePolicyDrift, audit.Warn, "drift not checked")
		if beyondBaseline(r) != 1 || r.HasErrors() || r.DriftChecked {
			t.Errorf("audit as %s: want only the drift warning, got:\n%s", role, dump(r))
		}
		if len(r.Tables) < 2 || len(r.Tables[0].Policies) != 4 || r.Accessor == nil || r.Accessor.Definition == nil {
			t.Errorf("audit as %s could not read the catalog: %+v", role, r)
		}
	}
	// A reader still sees everything else that is wrong.
	db.Exec(t, "alter table todos no force row level security")
	requireFinding(t, run(t, db, reader, audit.Options{}), audit.RuleRLSNotForced, audit.Error, "")
}

func TestAppRoleBypasses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		setup  func(t *testing.T, db *pgtest.DB, probe string)
		detail string // "" means no finding
	}{
		{"Plain", func(*testing.T, *pgtest.DB, string) {}, ""},
		{"Superuser", func(t *testing.T, db *pgtest.DB, probe string) {
			db.Exec(t, "alter role "+probe+" superuser")
		}, "is a superuser"},
		{"BypassRLS", func(t *testing.T, db *pgtest.DB, probe string) {
			db.Exec(t, "alter role "+probe+" bypassrls")
		}, "is BYPASSRLS"},
		{"CreateRole", func(t *testing.T, db *pgtest.DB, probe string) {
			db.Exec(t, "alter role "+probe+" createrole")
		}, "CREATEROLE"},
		{"OwnsTable", func(t *testing.T, db *pgtest.DB, probe string) {
			db.Exec(t, "alter table todos owner to "+probe)
		}, "the owner of table public.todos"},
		{"OwnsAccessor", func(t *testing.T, db *pgtest.DB, probe string) {
			db.Exec(t, "alter function app_user_id() owner to "+probe)
		}, "the owner of function public.app_user_id()"},
		{"MemberOfBypassRLS", func(t *testing.T, db *pgtest.DB, probe string) {
			group := probeRole(t, db, "group")
			db.Exec(t, "alter role "+group+" nologin bypassrls")
			db.Exec(t, "grant "+group+" to "+probe)
		}, "which is BYPASSRLS"},
		{"IndirectMemberOfSuperuser", func(t *testing.T, db *pgtest.DB, probe string) {
			outer, inner := probeRole(t, db, "outer"), probeRole(t, db, "inner")
			db.Exec(t, "alter role "+outer+" nologin superuser")
			db.Exec(t, "grant "+outer+" to "+inner)
			db.Exec(t, "grant "+inner+" to "+probe)
		}, "which is a superuser"},
		{"MemberOfTableOwner", func(t *testing.T, db *pgtest.DB, probe string) {
			db.Exec(t, "grant "+pgtest.Owner+" to "+probe)
		}, "the owner of table public.users"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			probe := probeRole(t, db, "probe")
			c.setup(t, db, probe)
			r := run(t, db, pgtest.Owner, audit.Options{AppRole: probe})
			if c.detail == "" {
				requireNoFinding(t, r, audit.RuleAppRoleBypasses)
				return
			}
			requireFinding(t, r, audit.RuleAppRoleBypasses, audit.Error, c.detail)
		})
	}
}

// TestAuditChangesNothing runs the drift check on a drifted database and
// checks that the catalog is exactly as before: same security state, same
// policy and function oids.
func TestAuditChangesNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	db.Exec(t, "alter policy todos_select on todos using (true)")
	db.Exec(t, "create policy todos_extra on todos as restrictive for select to rowgate_app using (true)")
	conn := db.Conn(t, pgtest.Owner)
	before := pgtest.SecurityState(t, conn)
	r := run(t, db, pgtest.Owner, audit.Options{})
	requireFinding(t, r, audit.RulePolicyDrift, audit.Error, "")
	if after := pgtest.SecurityState(t, conn); after != before {
		t.Fatalf("the audit changed the database:\nbefore %s\nafter  %s", before, after)
	}
}

func TestNoSuchSchema(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	_, err := audit.Run(context.Background(), db.Conn(t, pgtest.Owner), audit.Options{Schema: "nope"})
	if !errors.Is(err, audit.ErrNoSchema) {
		t.Fatalf("err = %v, want ErrNoSchema", err)
	}
}

// TestOtherSchema audits a schema that rls/ does not describe: its table is
// unprotected, and rls/ does not install there.
func TestOtherSchema(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	db.Exec(t, `create schema "Billing" authorization `+pgtest.Owner)
	db.Exec(t, `create table "Billing"."Invoices" (id int primary key)`)
	db.Exec(t, `alter table "Billing"."Invoices" owner to `+pgtest.Owner)
	r := run(t, db, pgtest.Owner, audit.Options{Schema: "Billing"})
	f := requireFinding(t, r, audit.RuleRLSDisabled, audit.Error, "")
	if f.Object != `table "Billing"."Invoices"` {
		t.Errorf("object = %s, want the quoted, qualified name", f.Object)
	}
	requireFinding(t, r, audit.RulePolicyDrift, audit.Error, "rls/ does not install")
	if len(r.Tables) != 1 || r.Tables[0].Name != "Invoices" {
		t.Errorf("tables = %+v", r.Tables)
	}
}

func TestMarkdownIsAReviewDocument(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	db.Exec(t, "comment on table todos is 'Todos: one owner each | pipes and *stars* survive'")
	conn := db.Conn(t, pgtest.Owner)
	r := run(t, db, pgtest.Owner, audit.Options{})
	var out bytes.Buffer
	if err := audit.WriteMarkdown(&out, r); err != nil {
		t.Fatal(err)
	}
	md := out.String()
	want := []string{
		"# Row level security audit", "**Result: PASS.** 0 errors, 0 warnings, ",
		"| `todos` | yes | yes | 4 |", "| `users` | yes | yes | 4 |",
		"(user_id = ( SELECT app_user_id() AS app_user_id))",
		"Todos: one owner each \\| pipes and \\*stars\\* survive",
		"CREATE OR REPLACE FUNCTION public.app_user_id()",
		"## App role `rowgate_app`", "| BYPASSRLS | no |",
		"| `app_user_id()` | invoker | not set | `" + pgtest.Owner + "` | no |",
		"PostgreSQL | 15", "**Result: PASS.** 0 errors, 0 warnings, 1 info.",
		"| 1 | info | `definer_function` | " + appMemberships + " |",
		"### SECURITY DEFINER `app_memberships(boolean)`",
	}
	// Every policy's name and every COMMENT ON text, read independently.
	rows, _ := conn.Query(context.Background(), `
		select p.polname::text, coalesce(obj_description(p.oid, 'pg_policy'), '') from pg_policy p
		union all
		select f.proname::text, coalesce(obj_description(f.oid, 'pg_proc'), '') from pg_proc f where f.pronamespace = 'public'::regnamespace`)
	var name, comment string
	_, err := pgx.ForEachRow(rows, []any{&name, &comment}, func() error {
		if comment == "" {
			t.Errorf("%s has no COMMENT ON", name)
		}
		want = append(want, "`"+name, comment)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(md, w) {
			t.Errorf("markdown lacks %q", w)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
}

func TestMarkdownFindings(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	db.Exec(t, "alter table todos no force row level security")
	r := run(t, db, pgtest.Owner, audit.Options{})
	var out bytes.Buffer
	if err := audit.WriteMarkdown(&out, r); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"**Result: FAIL.** 1 error, 0 warnings, 1 info.",
		"| 1 | error | `rls_not_forced` | table public.todos |",
		"- **Why it matters:** The table owner bypasses",
		"- **Fix:** ALTER TABLE public.todos FORCE ROW LEVEL SECURITY;",
		"| `todos` | yes | no | 4 |",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("markdown lacks %q:\n%s", w, out.String())
		}
	}
}

func TestJSONAndText(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	db.Exec(t, "create view todo_titles as select title from todos")
	r := run(t, db, pgtest.Owner, audit.Options{})
	var js bytes.Buffer
	if err := audit.WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Findings []map[string]any `json:"findings"`
		Summary  map[string]int   `json:"summary"`
		Tables   []struct {
			Name     string           `json:"name"`
			Policies []map[string]any `json:"policies"`
		} `json:"tables"`
		AppRole map[string]any `json:"app_role"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	// The view's error comes first; then the baseline's info.
	if len(doc.Findings) != 2 || doc.Findings[0]["rule"] != audit.RuleViewNotInvoker || doc.Findings[0]["severity"] != "error" || doc.Summary["errors"] != 1 {
		t.Errorf("json findings = %v, summary = %v", doc.Findings, doc.Summary)
	}
	for _, key := range []string{"rule", "severity", "object", "detail", "why", "fix"} {
		if _, ok := doc.Findings[0][key]; !ok {
			t.Errorf("finding lacks %q", key)
		}
	}
	if len(doc.Tables) < 2 || len(doc.Tables[0].Policies) != 4 {
		t.Fatalf("json tables = %+v", doc.Tables)
	}
	for _, key := range []string{"name", "command", "roles", "permissive", "using", "with_check", "comment"} {
		if _, ok := doc.Tables[0].Policies[0][key]; !ok {
			t.Errorf("policy lacks %q", key)
		}
	}
	if doc.AppRole["bypass_rls"] != false {
		t.Errorf("app_role = %v", doc.AppRole)
	}
	var text bytes.Buffer
	if err := audit.WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "ERROR  view_not_security_invoker  view public.todo_titles") ||
		!strings.HasSuffix(text.String(), "FAIL: 1 error, 0 warnings, 1 info\n") {
		t.Errorf("text report:\n%s", text.String())
	}
}

// TestDocsDescribeEveryRule keeps docs/audit.md in step with the rules.
func TestDocsDescribeEveryRule(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/audit.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range audit.Rules() {
		if !strings.Contains(string(doc), "### `"+r.ID+"`") {
			t.Errorf("docs/audit.md has no section for %s", r.ID)
		}
		if !strings.Contains(string(doc), "| `"+r.ID+"` | "+string(r.Severity)+" |") {
			t.Errorf("docs/audit.md does not list %s as %s", r.ID, r.Severity)
		}
	}
}
