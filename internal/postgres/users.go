package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate/internal/todo"
)

// The users statements have no WHERE clause at all: row level security
// narrows users to the caller's own row.
const (
	getMe = `select id, email, name, created_at, updated_at from users`

	updateMe = `
update users set name = case when $1::boolean then $2::text else name end
returning id, email, name, created_at, updated_at`

	deleteMe = `delete from users returning id`
)

// errManyUsers means a statement meant for the caller's own row saw more
// than one: row level security is not holding. It is never shown to a
// client.
var errManyUsers = errors.New("postgres: more than one users row visible to one caller; row level security is not holding")

// Users is the store of the caller's own users row.
type Users struct{ db *DB }

// Users returns the users store.
func (db *DB) Users() *Users { return &Users{db: db} }

// Me returns the caller's users row, creating it on first contact.
func (s *Users) Me(ctx context.Context, c todo.Caller) (todo.User, error) {
	var u todo.User
	err := s.db.run(ctx, c, reads, func(b *pgx.Batch) {
		b.Queue(getMe).Query(func(rows pgx.Rows) error { return scanOneUser(rows, &u) })
	})
	return u, err
}

// UpdateMe applies a partial update to the caller's users row.
func (s *Users) UpdateMe(ctx context.Context, c todo.Caller, p todo.UserPatch) (todo.User, error) {
	if err := p.Validate(); err != nil {
		return todo.User{}, err
	}
	var u todo.User
	err := s.db.run(ctx, c, writes, func(b *pgx.Batch) {
		b.Queue(updateMe, p.NameSet, p.Name).Query(func(rows pgx.Rows) error { return scanOneUser(rows, &u) })
	})
	return u, err
}

// DeleteMe removes the caller's users row and, by cascade, their todos. It
// is idempotent: deleting an already deleted user succeeds.
func (s *Users) DeleteMe(ctx context.Context, c todo.Caller) error {
	err := s.db.run(ctx, c, writes, func(b *pgx.Batch) {
		b.Queue(deleteMe).Query(func(rows pgx.Rows) error {
			n := 0
			for rows.Next() {
				n++
			}
			if n > 1 {
				return errManyUsers
			}
			return rows.Err()
		})
	})
	s.db.known.forget(c.ID)
	return err
}

// scanOneUser reads exactly one row; none means the caller's row vanished
// since this process provisioned it (errUserMissing makes run provision it
// again and retry).
func scanOneUser(rows pgx.Rows, u *todo.User) error {
	n := 0
	for rows.Next() {
		if n++; n > 1 {
			return errManyUsers
		}
		if err := rows.Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt, &u.UpdatedAt); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n == 0 {
		return errUserMissing
	}
	return nil
}
