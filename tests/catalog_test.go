package tests

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

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

// foreignKeysSQL lists every foreign key between two tables of public, one
// row per column pair, with what judging it needs.
const foreignKeysSQL = `
select c.conname::text, c.conrelid::regclass::text, c.confrelid::regclass::text, c.confmatchtype = 'f',
       a.attname::text, a.attnotnull, fa.attname::text
from pg_constraint c
cross join lateral unnest(c.conkey, c.confkey) as k(col, fcol)
join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.col
join pg_attribute fa on fa.attrelid = c.confrelid and fa.attnum = k.fcol
where c.contype = 'f'
  and c.connamespace = 'public'::regnamespace
  and (select relnamespace from pg_class where oid = c.confrelid) = 'public'::regnamespace
order by 1, 5`

// carriesOwner reports a column pair that carries the owner through a
// foreign key: a row's user_id to users.id, or to the referenced row's
// user_id; a shared row's organization_id to the referenced row's
// organization_id.
func carriesOwner(col, refTable, refCol string) bool {
	switch {
	case col == "user_id" && refTable == "users" && refCol == "id":
		return true
	case col == "user_id" && refCol == "user_id", col == "organization_id" && refCol == "organization_id":
		return true
	}
	return false
}

// foreignKeysWithoutOwner returns the foreign keys of public that do not
// carry the owner: PostgreSQL checks a foreign key (and cascades it)
// bypassing row level security, so a reference that names only another
// table's id lets a caller attach their row to someone else's, and learn
// that it exists. A pair on a nullable owner column must be MATCH FULL,
// or a null owner skips the check altogether.
func foreignKeysWithoutOwner(t *testing.T, conn *pgx.Conn) (bad []string, checked int) {
	t.Helper()
	rows, err := conn.Query(context.Background(), foreignKeysSQL)
	if err != nil {
		t.Fatal(err)
	}
	type fk struct {
		table, ref string
		ok         bool
	}
	fks := map[string]*fk{}
	var names []string
	for rows.Next() {
		var name, table, ref, col, refCol string
		var full, notNull bool
		if err := rows.Scan(&name, &table, &ref, &full, &col, &notNull, &refCol); err != nil {
			t.Fatal(err)
		}
		if fks[name] == nil {
			fks[name] = &fk{table: table, ref: ref}
			names = append(names, name)
		}
		if carriesOwner(col, ref, refCol) && (notNull || full) {
			fks[name].ok = true
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if !fks[name].ok {
			bad = append(bad, fmt.Sprintf("%s (%s -> %s)", name, fks[name].table, fks[name].ref))
		}
	}
	return bad, len(names)
}

// TestForeignKeysCarryTheOwner fails when a foreign key between two
// tables of public does not carry the owner (see foreignKeysWithoutOwner).
func TestForeignKeysCarryTheOwner(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	conn := db.Conn(t, pgtest.Owner)
	bad, checked := foreignKeysWithoutOwner(t, conn)
	if checked < 2 {
		t.Fatalf("only %d foreign keys found; todos and idempotency_keys each reference users", checked)
	}
	for _, b := range bad {
		t.Errorf("foreign key %s does not carry the owner: reference (user_id, id) or (organization_id, id), or a policy must check it", b)
	}
}

// TestForeignKeyCheckFailsOnBadReferences shows the check failing: a
// reference by id alone, and one whose nullable owner lets the check be
// skipped, are reported; composite references carrying the owner are not.
func TestForeignKeyCheckFailsOnBadReferences(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	db.Exec(t, `alter table todos add constraint todos_user_id_id_key unique (user_id, id),
		add constraint todos_organization_id_id_key unique (organization_id, id)`)
	db.Exec(t, `create table notes (
		id uuid primary key,
		user_id text not null references users (id),
		todo_id uuid not null constraint notes_todo_id_fkey references todos (id),
		constraint notes_user_todo_fkey foreign key (user_id, todo_id) references todos (user_id, id))`)
	db.Exec(t, `create table comments (
		organization_id text,
		todo_id uuid,
		constraint comments_loose_fkey foreign key (organization_id, todo_id) references todos (organization_id, id),
		constraint comments_full_fkey foreign key (organization_id, todo_id) references todos (organization_id, id) match full)`)
	bad, _ := foreignKeysWithoutOwner(t, db.Conn(t, pgtest.Owner))
	want := []string{"comments_loose_fkey (comments -> todos)", "notes_todo_id_fkey (notes -> todos)"}
	if !slices.Equal(bad, want) {
		t.Fatalf("reported %q, want %q", bad, want)
	}
}

// TestMembershipFunctionIsLockedDown checks app_memberships(), the one
// function that reads Better Auth's tables with its owner's rights: SECURITY
// DEFINER with a pinned search_path, owned by the migrating role, not
// executable by PUBLIC (only by rowgate_app), and the only SECURITY DEFINER
// function of the schema.
func TestMembershipFunctionIsLockedDown(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	conn := db.Conn(t, pgtest.Owner)
	var definers []string
	var owner string
	var config []string
	var public, app bool
	err := conn.QueryRow(context.Background(), `
select (select array_agg(oid::regprocedure::text order by 1) from pg_proc
        where pronamespace = 'public'::regnamespace and prosecdef),
       p.proowner::regrole::text, coalesce(p.proconfig, '{}'),
       has_function_privilege('public', p.oid, 'execute'),
       has_function_privilege('rowgate_app', p.oid, 'execute')
from pg_proc p where p.oid = 'app_memberships(boolean)'::regprocedure`).Scan(&definers, &owner, &config, &public, &app)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(definers, []string{"app_memberships(boolean)"}) {
		t.Errorf("SECURITY DEFINER functions %v, want only app_memberships(boolean)", definers)
	}
	if owner != pgtest.Owner {
		t.Errorf("app_memberships belongs to %s, want the migrating role %s", owner, pgtest.Owner)
	}
	if !slices.Equal(config, []string{"search_path=pg_catalog, pg_temp"}) {
		t.Errorf("app_memberships settings %v, want search_path pinned to pg_catalog, pg_temp", config)
	}
	if public || !app {
		t.Errorf("app_memberships executable by PUBLIC: %v, by rowgate_app: %v; want false, true", public, app)
	}
}
