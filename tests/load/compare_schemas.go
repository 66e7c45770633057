package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate/internal/devdb"
	"github.com/rowgate/rowgate/internal/migrate"
)

// With -compare-schemas each side of a comparison reads its own database,
// migrated by its own binary, so that a change to sql/ or rls/ is measured
// with the old statements on the old schema and the new on the new: the
// old binary's statements on the new schema (plain -compare) can be slow
// for reasons the old release never had. The old database gets the same
// rows, ids included, copied from the seeded one, so one population (and
// its isolation checks) serves both sides. Writes would make the two
// databases differ, so only read-only mixes are allowed.

// oldDBName is the old side's database, next to the stack's dbName.
const oldDBName = dbName + "_old"

// copiedTables are the columns copied into the old database: those the
// schema had before organizations. A revision older than a column of
// these cannot be compared this way.
var copiedTables = []struct {
	name string
	cols []string
}{
	{"users", []string{"id", "email", "name", "created_at", "updated_at"}},
	{"todos", []string{"id", "user_id", "title", "description", "completed", "created_at", "updated_at"}},
}

// readOnlyMix reports whether m makes no writes.
func readOnlyMix(m mix) bool { return m[opCreate] == 0 && m[opPatch] == 0 && m[opDelete] == 0 }

// oldDatabase creates oldDBName as the stack's database was created,
// migrates it with oldBin, copies the seeded rows into it, and returns its
// rowgate_app URL.
func oldDatabase(ctx context.Context, st *stack, oldBin string) (string, error) {
	if err := migrate.Bootstrap(ctx, st.cluster.URL(devdb.Superuser, "postgres"), owner, "owner", oldDBName); err != nil {
		return "", err
	}
	mig := exec.CommandContext(ctx, oldBin, "migrate", "--database-url", st.cluster.URL(owner, oldDBName))
	mig.Stderr = os.Stderr
	if err := mig.Run(); err != nil {
		return "", fmt.Errorf("migrate %s with the old binary: %w", oldDBName, err)
	}
	from, err := pgx.Connect(ctx, st.superURL)
	if err != nil {
		return "", err
	}
	defer from.Close(context.Background())
	to, err := pgx.Connect(ctx, st.cluster.URL(devdb.Superuser, oldDBName))
	if err != nil {
		return "", err
	}
	defer to.Close(context.Background())
	for _, t := range copiedTables {
		if err := copyTable(ctx, from, to, t.name, t.cols); err != nil {
			return "", fmt.Errorf("copy %s into %s: %w", t.name, oldDBName, err)
		}
	}
	if _, err := to.Exec(ctx, "vacuum analyze"); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "load: %s migrated by the old binary, rows copied\n", oldDBName)
	return st.cluster.URL(migrate.AppRole, oldDBName), nil
}

func copyTable(ctx context.Context, from, to *pgx.Conn, table string, cols []string) error {
	sql := "select "
	for i, c := range cols {
		if i > 0 {
			sql += ", "
		}
		sql += pgx.Identifier{c}.Sanitize()
	}
	rows, err := from.Query(ctx, sql+" from "+pgx.Identifier{table}.Sanitize())
	if err != nil {
		return err
	}
	defer rows.Close()
	_, err = to.CopyFrom(ctx, pgx.Identifier{table}, cols, rows)
	return err
}
