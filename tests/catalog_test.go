package tests

import (
	"context"
	"testing"

	"github.com/rowgate/rowgate/internal/pgtest"
)

// appTables lists the tables of the public schema of a migrated database.
func appTables(t *testing.T) []string {
	t.Helper()
	db := pgtest.NewDB(t)
	conn := db.Conn(t, pgtest.Owner)
	rows, err := conn.Query(context.Background(),
		`select relname::text from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') order by 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	if len(tables) == 0 {
		t.Fatal("no tables in public: is the template migrated?")
	}
	return tables
}

// TestEveryTableIsProtected fails when a table of the schema lacks ENABLE or
// FORCE row level security, or lacks a policy for rowgate_app for some
// command, so a future table cannot slip in unprotected. It also requires a
// WITH CHECK on every policy that writes.
func TestEveryTableIsProtected(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	conn := db.Conn(t, pgtest.Owner)
	const q = `
select c.relname::text, c.relrowsecurity, c.relforcerowsecurity, cmd.name,
       exists (select 1 from pg_policies p
               where p.schemaname = 'public' and p.tablename = c.relname
                 and p.cmd in (cmd.name, 'ALL') and 'rowgate_app' = any (p.roles)),
       not exists (select 1 from pg_policies p
               where p.schemaname = 'public' and p.tablename = c.relname
                 and p.cmd in (cmd.name, 'ALL') and cmd.name in ('INSERT', 'UPDATE') and p.with_check is null)
from pg_class c
cross join (values ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE')) as cmd(name)
where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
order by 1, 4`
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var table, cmd string
		var enabled, forced, hasPolicy, hasCheck bool
		if err := rows.Scan(&table, &enabled, &forced, &cmd, &hasPolicy, &hasCheck); err != nil {
			t.Fatal(err)
		}
		n++
		if !enabled {
			t.Errorf("%s: row level security is not enabled", table)
		}
		if !forced {
			t.Errorf("%s: row level security is not forced (the table owner bypasses it)", table)
		}
		if !hasPolicy {
			t.Errorf("%s: no %s policy for rowgate_app", table, cmd)
		}
		if !hasCheck {
			t.Errorf("%s: a %s policy has no WITH CHECK", table, cmd)
		}
	}
	if n == 0 {
		t.Fatal("no tables checked")
	}
}

// TestAppRoleIsPlain checks that rowgate_app cannot bypass row level
// security: no superuser, no BYPASSRLS, owns nothing, member of nothing.
func TestAppRoleIsPlain(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	conn := db.Conn(t, pgtest.App)
	var super, bypass, createdb, createrole bool
	var owned, memberships int
	err := conn.QueryRow(context.Background(), `
select r.rolsuper, r.rolbypassrls, r.rolcreatedb, r.rolcreaterole,
       (select count(*) from pg_class c where c.relowner = r.oid),
       (select count(*) from pg_auth_members m where m.member = r.oid)
from pg_roles r where r.rolname = current_user`).Scan(&super, &bypass, &createdb, &createrole, &owned, &memberships)
	if err != nil {
		t.Fatal(err)
	}
	if super || bypass || createdb || createrole || owned > 0 || memberships > 0 {
		t.Fatalf("rowgate_app: super=%v bypassrls=%v createdb=%v createrole=%v owns=%d memberships=%d",
			super, bypass, createdb, createrole, owned, memberships)
	}
}
