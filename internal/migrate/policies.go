package migrate

import (
	"context"
	_ "embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed snapshot.sql
var snapshotSQL string

// RenderPolicies evaluates the rls/ code package into the SQL it installs.
// Its template data is BetterAuthSchema (DefaultBetterAuthSchema unless
// opts names another).
func RenderPolicies(opts Options) (string, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return "", err
	}
	pkg, err := migrate.LoadCodePackage(opts.Policies)
	if err != nil {
		return "", fmt.Errorf("migrate: load rls/: %w", err)
	}
	sql, err := pkg.Eval(map[string]any{"BetterAuthSchema": opts.BetterAuthSchema})
	if err != nil {
		return "", fmt.Errorf("migrate: render rls/: %w", err)
	}
	return sql, nil
}

// installPolicies runs rls/ in one transaction and commits only when the
// security state it leaves differs from the one it found, so a second
// migrate changes nothing, not even a policy's oid.
func installPolicies(ctx context.Context, conn *pgx.Conn, opts Options) error {
	sql, err := RenderPolicies(opts)
	if err != nil {
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	before, err := Snapshot(ctx, tx)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, sql); err != nil {
		tx.Rollback(ctx)
		return policyError(ctx, conn, sql, err)
	}
	after, err := Snapshot(ctx, tx)
	if err != nil {
		return err
	}
	if before == after {
		fmt.Fprintln(opts.Progress, "migrate: rls/ policies up to date")
		return nil
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: commit rls/: %w", err)
	}
	fmt.Fprintln(opts.Progress, "migrate: rls/ policies installed")
	return nil
}

// Querier is what Snapshot reads through: a connection, pool or transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Snapshot returns the security state of the connection's current schema
// as canonical JSON: policies, RLS flags, privileges, defaults, functions.
func Snapshot(ctx context.Context, q Querier) (string, error) {
	var s string
	if err := q.QueryRow(ctx, snapshotSQL).Scan(&s); err != nil {
		return "", fmt.Errorf("migrate: read security state: %w", err)
	}
	return s, nil
}

func policyError(ctx context.Context, conn *pgx.Conn, sql string, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return fmt.Errorf("migrate: install rls/: %w", err)
	}
	return newPolicyError(ctx, conn, sql, pgErr)
}
