package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const createAppRole = `create role rowgate_app login nosuperuser nobypassrls nocreatedb nocreaterole noreplication`

const appRoleAttributes = `
select rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolreplication, rolcanlogin
from pg_catalog.pg_roles where rolname = $1`

// ensureAppRole creates rowgate_app when it is missing and refuses to go on
// when it exists with an attribute that would defeat row level security.
// Changing those attributes back needs a superuser, which migrate does not
// assume, so it says what to run instead.
func ensureAppRole(ctx context.Context, conn *pgx.Conn, opts Options) error {
	var super, bypass, createdb, createrole, replication, login bool
	err := conn.QueryRow(ctx, appRoleAttributes, AppRole).Scan(&super, &bypass, &createdb, &createrole, &replication, &login)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := conn.Exec(ctx, createAppRole); err != nil && !isDuplicate(err) {
			return fmt.Errorf("migrate: create role %s: %w", AppRole, err)
		}
		fmt.Fprintf(opts.Progress, "migrate: role %s created\n", AppRole)
	case err != nil:
		return fmt.Errorf("migrate: read role %s: %w", AppRole, err)
	default:
		if bad := unsafeAttributes(super, bypass, createdb, createrole, replication); len(bad) > 0 {
			return fmt.Errorf("migrate: role %s exists with %s, which defeats row level security; a superuser must run: ALTER ROLE %s NO%s",
				AppRole, strings.Join(bad, ", "), AppRole, strings.Join(bad, " NO"))
		}
		if !login {
			if _, err := conn.Exec(ctx, "alter role rowgate_app login"); err != nil {
				return fmt.Errorf("migrate: allow %s to log in: %w", AppRole, err)
			}
		}
		fmt.Fprintf(opts.Progress, "migrate: role %s exists\n", AppRole)
	}
	if opts.AppPassword != "" {
		return setAppPassword(ctx, conn, opts)
	}
	return nil
}

func unsafeAttributes(super, bypass, createdb, createrole, replication bool) []string {
	var bad []string
	for _, a := range []struct {
		on   bool
		name string
	}{{super, "SUPERUSER"}, {bypass, "BYPASSRLS"}, {createdb, "CREATEDB"}, {createrole, "CREATEROLE"}, {replication, "REPLICATION"}} {
		if a.on {
			bad = append(bad, a.name)
		}
	}
	return bad
}

// setAppPassword lets PostgreSQL quote the password (format %L), so no value
// is ever spliced into SQL by Go.
func setAppPassword(ctx context.Context, conn *pgx.Conn, opts Options) error {
	var stmt string
	if err := conn.QueryRow(ctx, "select format('alter role rowgate_app password %L', $1::text)", opts.AppPassword).Scan(&stmt); err != nil {
		return fmt.Errorf("migrate: prepare password: %w", err)
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("migrate: set %s password: %w", AppRole, err)
	}
	fmt.Fprintf(opts.Progress, "migrate: role %s password set from ROWGATE_APP_PASSWORD\n", AppRole)
	return nil
}

// isDuplicate reports a concurrent run having created the role first.
func isDuplicate(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) &&
		(pgErr.Code == pgerrcode.DuplicateObject || pgErr.Code == pgerrcode.UniqueViolation)
}
