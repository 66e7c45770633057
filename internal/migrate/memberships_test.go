package migrate_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowgate/rowgate/internal/migrate"
	"github.com/rowgate/rowgate/internal/pgtest"
)

// membershipsBody is app_memberships()'s definition as the owner sees it.
func membershipsBody(t *testing.T, db *pgtest.DB) string {
	t.Helper()
	var def string
	err := db.Conn(t, pgtest.Owner).QueryRow(context.Background(),
		`select pg_get_functiondef('app_memberships(boolean)'::regprocedure)`).Scan(&def)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// TestMembershipsWithoutBetterAuth: a database without Better Auth's
// organization tables migrates, gets the stub that returns no rows, and a
// later migrate after Better Auth created them installs the real function.
func TestMembershipsWithoutBetterAuth(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	if err := migrate.Run(ctx, db.URL(pgtest.Owner), migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	if def := membershipsBody(t, db); strings.Contains(def, "better_auth") || !strings.Contains(def, "SECURITY DEFINER") {
		t.Fatalf("without Better Auth's tables app_memberships() should be the stub:\n%s", def)
	}
	// Everything works as before: a personal todo, and no organization.
	app := db.Conn(t, pgtest.App)
	tx, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var n int
	err = tx.QueryRow(ctx, `with me as (select set_config('app.user_id', 'u1', true)),
		u as (insert into users (id) select 'u1' from me returning id)
		select count(*) from u`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `insert into todos (title) values ('personal')`); err != nil {
		t.Fatalf("a personal todo without Better Auth: %v", err)
	}
	if err := tx.QueryRow(ctx, `select count(*) from app_memberships(true)`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("app_memberships() = %d rows, %v; want none", n, err)
	}
	if _, err := tx.Exec(ctx, `insert into todos (title, organization_id) values ('shared', 'org')`); !isCode(err, pgerrcode.InsufficientPrivilege) {
		t.Fatalf("a todo in an organization without Better Auth: err = %v, want 42501", err)
	}
	tx.Rollback(ctx)

	db.AddBetterAuth(t)
	if err := migrate.Run(ctx, db.URL(pgtest.Owner), migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	if def := membershipsBody(t, db); !strings.Contains(def, `better_auth.member`) {
		t.Fatalf("after Better Auth's tables appeared, migrate did not install the real app_memberships():\n%s", def)
	}
}

// TestMembershipsNeedGrants: Better Auth's tables that the migrating role
// may not read stop the migration with the grants to run.
func TestMembershipsNeedGrants(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmptyDB(t)
	db.AddBetterAuth(t)
	db.Exec(t, `revoke select on better_auth.member from `+pgtest.Owner)
	err := migrate.Run(context.Background(), db.URL(pgtest.Owner), migrate.Options{})
	var mErr *migrate.Error
	if !errors.As(err, &mErr) || mErr.File != "rls/memberships.sql" || mErr.Err.Code != pgerrcode.InsufficientPrivilege {
		t.Fatalf("err = %v, want 42501 located in rls/memberships.sql", err)
	}
	want := "grant usage on schema better_auth to " + pgtest.Owner + "; grant select on better_auth.organization, better_auth.member to " + pgtest.Owner
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("the error does not say which grants to run:\n%v", err)
	}
}

// TestMembershipsOtherSchema: Better Auth in a schema of another name is
// found when migrate is told its name, and only then.
func TestMembershipsOtherSchema(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmptyDB(t)
	db.AddBetterAuth(t)
	db.Exec(t, `alter schema better_auth rename to auth`)
	ctx := context.Background()
	if err := migrate.Run(ctx, db.URL(pgtest.Owner), migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	if def := membershipsBody(t, db); strings.Contains(def, "auth.member") {
		t.Fatalf("the default schema holds no Better Auth tables, yet:\n%s", def)
	}
	if err := migrate.Run(ctx, db.URL(pgtest.Owner), migrate.Options{BetterAuthSchema: "auth"}); err != nil {
		t.Fatal(err)
	}
	if def := membershipsBody(t, db); !strings.Contains(def, "auth.member") {
		t.Fatalf("--better-auth-schema auth did not install the real function:\n%s", def)
	}
	for _, bad := range []string{"Auth", "a-b", "1st", `x"; drop table todos; --`, strings.Repeat("s", 64)} {
		if err := migrate.Run(ctx, db.URL(pgtest.Owner), migrate.Options{BetterAuthSchema: bad}); err == nil {
			t.Errorf("schema name %q accepted", bad)
		}
	}
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}
