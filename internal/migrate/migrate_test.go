package migrate_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate"
	"github.com/rowgate/rowgate/internal/migrate"
	"github.com/rowgate/rowgate/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// catalogState is what a second migrate must not touch: the security state
// and the applied migration version.
func catalogState(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var version int
	if err := conn.QueryRow(context.Background(), "select version from rowgate_meta.schema_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	return pgtest.SecurityState(t, conn) + "|" + strconv.Itoa(version)
}

func TestRunFreshAsNonSuperuserOwner(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmptyDB(t)
	var out bytes.Buffer
	if err := migrate.Run(context.Background(), db.URL(pgtest.Owner), migrate.Options{Progress: &out}); err != nil {
		t.Fatal(err)
	}
	files, _ := migrate.MigrationFiles(rowgate.Migrations)
	for _, f := range files {
		if !strings.Contains(out.String(), "migrate: up "+f+"\n") {
			t.Errorf("progress lacks a line for %s:\n%s", f, out.String())
		}
	}
	if !strings.Contains(out.String(), "rls/ policies installed") {
		t.Errorf("progress does not report installing rls/:\n%s", out.String())
	}
	var super bool
	conn := db.Conn(t, pgtest.Owner)
	if err := conn.QueryRow(context.Background(), "select rolsuper from pg_roles where rolname = current_user").Scan(&super); err != nil || super {
		t.Fatalf("the migrating owner must not be a superuser (super=%v, err=%v)", super, err)
	}
}

func TestRunTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t) // already migrated once, from the template
	conn := db.Conn(t, pgtest.Owner)
	before := catalogState(t, conn)
	var out bytes.Buffer
	if err := migrate.Run(context.Background(), db.URL(pgtest.Owner), migrate.Options{Progress: &out}); err != nil {
		t.Fatal(err)
	}
	if after := catalogState(t, conn); after != before {
		t.Fatalf("second migrate changed the catalog:\nbefore %s\nafter  %s", before, after)
	}
	for _, want := range []string{"schema up to date", "rls/ policies up to date"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunRestoresADroppedPolicy(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	db.Exec(t, "drop policy todos_select on todos")
	db.Exec(t, "create policy todos_extra on todos for select to rowgate_app using (true)")
	if err := migrate.Run(context.Background(), db.URL(pgtest.Owner), migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	var names string
	conn := db.Conn(t, pgtest.Owner)
	err := conn.QueryRow(context.Background(), `select string_agg(policyname, ',' order by policyname) from pg_policies where tablename = 'todos'`).Scan(&names)
	if err != nil {
		t.Fatal(err)
	}
	if names != "todos_delete,todos_insert,todos_select,todos_update" {
		t.Fatalf("policies on todos after migrate = %s; rls/ must be authoritative", names)
	}
}

func TestConcurrentRunsTakeTurns(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmptyDB(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = migrate.Run(context.Background(), db.URL(pgtest.Owner), migrate.Options{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("run %d: %v", i, err)
		}
	}
}

func TestFailingMigrationNamesFileAndLine(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmptyDB(t)
	migrations := fstest.MapFS{
		"001_ok.sql":  {Data: []byte("create table ok (id int);\n")},
		"002_bad.sql": {Data: []byte("\n\n-- a comment\ncreate table bad (\n  id int,\n  name txet\n);\n")},
	}
	err := migrate.Run(context.Background(), db.URL(pgtest.Owner), migrate.Options{Migrations: migrations, Policies: fstest.MapFS{
		"install.sql": {Data: []byte("-- rls/install.sql\nselect 1;\n")},
	}})
	var mErr *migrate.Error
	if !errors.As(err, &mErr) {
		t.Fatalf("err = %v, want a *migrate.Error", err)
	}
	if mErr.File != "sql/002_bad.sql" || mErr.Line != 6 {
		t.Fatalf("error located at %s:%d, want sql/002_bad.sql:6 (%v)", mErr.File, mErr.Line, err)
	}
	if !strings.Contains(err.Error(), "sql/002_bad.sql:6:") {
		t.Fatalf("message %q does not name file and line", err)
	}
}

func TestFailingPolicyNamesFileAndLine(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	policies := fstest.MapFS{
		"install.sql": {Data: []byte("-- rls/install.sql: test\n\n{{ template \"a.sql\" . }}\n\n{{ template \"b.sql\" . }}\n")},
		"a.sql":       {Data: []byte("-- rls/a.sql: fine\nselect 1;\n")},
		"b.sql":       {Data: []byte("-- rls/b.sql: broken\nselect 1;\n\ncreate policy p on no_such_table using (true);\n")},
	}
	err := migrate.Run(context.Background(), db.URL(pgtest.Owner), migrate.Options{Policies: policies})
	var mErr *migrate.Error
	if !errors.As(err, &mErr) {
		t.Fatalf("err = %v, want a *migrate.Error", err)
	}
	if mErr.File != "rls/b.sql" || mErr.Line != 4 {
		t.Fatalf("error located at %s:%d, want rls/b.sql:4 (%v)", mErr.File, mErr.Line, err)
	}
}

// TestRefusesBypassingAppRole changes the cluster-wide role, so it runs
// alone: before the parallel tests, and never on a shared server.
func TestRefusesBypassingAppRole(t *testing.T) {
	db := pgtest.NewDB(t)
	if pgtest.External(t) {
		t.Skip("alters the cluster-wide rowgate_app role; not on a shared TEST_DATABASE_URL")
	}
	db.Exec(t, "alter role rowgate_app bypassrls")
	defer db.Exec(t, "alter role rowgate_app nobypassrls")
	err := migrate.Run(context.Background(), db.URL(pgtest.Owner), migrate.Options{})
	if err == nil || !strings.Contains(err.Error(), "BYPASSRLS") {
		t.Fatalf("err = %v, want a refusal naming BYPASSRLS", err)
	}
}
