package migrate

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Bootstrap prepares a fresh server the way a hosted PostgreSQL (Neon, RDS)
// arrives: an ordinary owner role with CREATEROLE, not a superuser, and a
// database it owns. It connects as a superuser, is idempotent for the role,
// and creates the database unless it exists. `rowgate dev` and the test
// harness use it before Run.
func Bootstrap(ctx context.Context, superuserURL, owner, password, database string) error {
	conn, err := pgx.Connect(ctx, superuserURL)
	if err != nil {
		return fmt.Errorf("migrate: bootstrap: %w", err)
	}
	defer conn.Close(context.Background())
	var stmt string
	err = conn.QueryRow(ctx, `select format('create role %I login createrole password %L', $1::text, $2::text)`, owner, password).Scan(&stmt)
	if err != nil {
		return fmt.Errorf("migrate: bootstrap: %w", err)
	}
	if _, err := conn.Exec(ctx, stmt); err != nil && !isDuplicate(err) {
		return fmt.Errorf("migrate: bootstrap: create role %s: %w", owner, err)
	}
	var exists bool
	if err := conn.QueryRow(ctx, "select exists (select 1 from pg_database where datname = $1)", database).Scan(&exists); err != nil {
		return fmt.Errorf("migrate: bootstrap: %w", err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "create database "+pgx.Identifier{database}.Sanitize()+" owner "+pgx.Identifier{owner}.Sanitize())
	if err != nil {
		return fmt.Errorf("migrate: bootstrap: create database %s: %w", database, err)
	}
	return nil
}
