package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// roleCheck lists the connected role and every role it is a member of,
// directly or through other roles, with what would let it bypass row level
// security, plus the tables of the public schema that have RLS disabled.
const roleCheck = `
with recursive granted (oid) as (
  select oid from pg_catalog.pg_roles where rolname = current_user
  union
  select m.roleid from pg_catalog.pg_auth_members m join granted g on m.member = g.oid
)
select r.rolname::text, r.rolsuper, r.rolbypassrls,
       coalesce((select string_agg(c.relname::text, ', ' order by c.relname)
                 from pg_catalog.pg_class c
                 where c.relowner = r.oid and c.relnamespace = 'public'::regnamespace
                   and c.relkind in ('r', 'p', 'v', 'm')), '')
from pg_catalog.pg_roles r join granted g on g.oid = r.oid
order by r.rolname`

const unprotectedTables = `
select coalesce(string_agg(relname::text, ', ' order by relname), '')
from pg_catalog.pg_class
where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') and not relrowsecurity`

// RefusalError is CheckRole's verdict that row level security would not
// hold for the role rowgate connects as. It is final: retrying cannot fix
// it, and the service must not start.
type RefusalError struct{ Problems []string }

func (e *RefusalError) Error() string {
	return fmt.Sprintf("refusing to serve: row level security would not hold: %s; connect as rowgate_app (run `rowgate migrate` to create it)",
		strings.Join(e.Problems, "; "))
}

// CheckRole refuses a connection that could bypass row level security: a
// superuser, a role with BYPASSRLS, the owner of an app table, or a member
// of any such role. It also refuses a schema where a table has RLS
// disabled. A service quietly running as a bypassing role is the most
// common RLS failure; this turns it into a start-up error that says why
// (a *RefusalError). Any other error means the check could not run. Once
// it passes, the door opens: until then no request reaches the database.
func (db *DB) CheckRole(ctx context.Context) error {
	if err := checkRole(ctx, db.primary.current()); err != nil {
		return err
	}
	db.gate.openUp()
	return nil
}

func checkRole(ctx context.Context, pool *pgxpool.Pool) error {
	rows, err := pool.Query(ctx, roleCheck)
	if err != nil {
		return fmt.Errorf("postgres: role check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var name, owns string
		var super, bypass bool
		if err := rows.Scan(&name, &super, &bypass, &owns); err != nil {
			return fmt.Errorf("postgres: role check: %w", err)
		}
		if super {
			problems = append(problems, fmt.Sprintf("role %s is a superuser", name))
		}
		if bypass {
			problems = append(problems, fmt.Sprintf("role %s has BYPASSRLS", name))
		}
		if owns != "" {
			problems = append(problems, fmt.Sprintf("role %s owns %s", name, owns))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: role check: %w", err)
	}
	var open string
	if err := pool.QueryRow(ctx, unprotectedTables).Scan(&open); err != nil {
		return fmt.Errorf("postgres: role check: %w", err)
	}
	if open != "" {
		problems = append(problems, "row level security is disabled on "+open)
	}
	if len(problems) > 0 {
		return &RefusalError{Problems: problems}
	}
	return nil
}
