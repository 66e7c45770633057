package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate/internal/todo"
)

// listOrganizations reads the caller's memberships through the one function
// that reads Better Auth's tables; it returns only the caller's own.
const listOrganizations = `select organization_id, name, roles from app_memberships(true) order by name, organization_id`

// Organizations is the store of the caller's memberships in Better Auth
// organizations. rowgate keeps no copy: each call reads them live.
type Organizations struct{ db *DB }

// Organizations returns the organizations store.
func (db *DB) Organizations() *Organizations { return &Organizations{db: db} }

// List returns the organizations the caller is a member of now, with
// their roles there, by name. Without Better Auth's organization tables
// it returns none.
func (s *Organizations) List(ctx context.Context, c todo.Caller) ([]todo.Organization, error) {
	var orgs []todo.Organization
	err := s.db.run(ctx, c, reads, func(b *pgx.Batch) {
		orgs = []todo.Organization{}
		b.Queue(listOrganizations).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var o todo.Organization
				if err := rows.Scan(&o.ID, &o.Name, &o.Roles); err != nil {
					return err
				}
				orgs = append(orgs, o)
			}
			return rows.Err()
		})
	})
	return orgs, err
}
