package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowgate/rowgate/internal/todo"
)

// The statements below carry no ownership filter: row level security
// decides which rows each one sees (rls/todos.sql).
const (
	todoColumns = `id, user_id, organization_id, title, description, completed, created_at, updated_at`

	getTodo = `select ` + todoColumns + ` from todos where id = $1`

	// user_id is not named: its default is app_user_id().
	createTodo = `
insert into todos (title, description, completed, organization_id)
values ($1, $2, $3, $4)
returning ` + todoColumns

	// $6 is the If-Match precondition: the updated_at the client last saw.
	// $7 says whether organization_id is set, to $8.
	updateTodo = `
update todos set
  title = coalesce($2::text, title),
  description = case when $3::boolean then $4::text else description end,
  completed = coalesce($5::boolean, completed),
  organization_id = case when $7::boolean then $8::text else organization_id end
where id = $1 and ($6::timestamptz is null or updated_at = $6)
returning ` + todoColumns

	deleteTodo = `
delete from todos
where id = $1 and ($2::timestamptz is null or updated_at = $2)
returning id`

	// Queued after an update or delete in the same transaction: the
	// version of the row if the caller can (still) see it, which tells a
	// failed precondition, a refusal and a missing row apart.
	todoVersion = `select updated_at from todos where id = $1`
)

// Todos is the store of the todos the caller may see.
type Todos struct{ db *DB }

// Todos returns the todo store.
func (db *DB) Todos() *Todos { return &Todos{db: db} }

// List returns a page of todos, newest first: the caller's personal todos,
// or the organization's that q names (none unless the caller is a member
// of it). It never returns a todo the caller may not see: the database
// filters them out.
func (s *Todos) List(ctx context.Context, c todo.Caller, q todo.ListQuery) (todo.Page, error) {
	sql, args := ListStatement(q)
	var page todo.Page
	err := s.db.run(ctx, c, reads, func(b *pgx.Batch) {
		page = todo.Page{Items: make([]todo.Todo, 0, q.Limit+1)}
		b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				// Scan in place: a local Todo would escape to the heap once
				// per row.
				page.Items = append(page.Items, todo.Todo{})
				if err := scanTodo(rows, &page.Items[len(page.Items)-1]); err != nil {
					return err
				}
			}
			return rows.Err()
		})
	})
	if err != nil {
		return todo.Page{}, err
	}
	if len(page.Items) > q.Limit {
		page.Items = page.Items[:q.Limit]
		last := page.Items[q.Limit-1]
		page.Next = &todo.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return page, nil
}

// Get returns a todo the caller may see, or todo.ErrNotFound if it does
// not exist or the caller may not see it (someone else's personal todo, or
// one of an organization the caller is not a member of).
func (s *Todos) Get(ctx context.Context, c todo.Caller, id string) (todo.Todo, error) {
	var t todo.Todo
	err := s.db.run(ctx, c, reads, func(b *pgx.Batch) {
		b.Queue(getTodo, id).QueryRow(func(row pgx.Row) error { return scanTodo(row, &t) })
	})
	return t, err
}

// Create inserts a todo created by the caller, personal or in the
// organization n names, and returns it as stored. Naming an organization
// the caller is not a member of, or one that does not exist, gives
// todo.ErrNotAMember.
func (s *Todos) Create(ctx context.Context, c todo.Caller, n todo.NewTodo) (todo.Todo, error) {
	if err := n.Validate(); err != nil {
		return todo.Todo{}, err
	}
	var t todo.Todo
	err := s.db.run(ctx, c, writes, func(b *pgx.Batch) {
		b.Queue(createTodo, n.Title, n.Description, n.Completed, n.OrganizationID).QueryRow(func(row pgx.Row) error { return scanTodo(row, &t) })
	})
	if n.OrganizationID != nil && errors.Is(err, todo.ErrForbidden) {
		return todo.Todo{}, todo.ErrNotAMember
	}
	return t, err
}

// Update applies a partial update. ifMatch, when non-nil, is the
// updated_at the caller last saw: if the todo changed since, nothing is
// written and todo.ErrPreconditionFailed is returned. A todo the caller
// cannot see gives todo.ErrNotFound. Moving it into an organization the
// caller is not a member of gives todo.ErrNotAMember; making another
// member's todo personal gives todo.ErrNotAllowed.
func (s *Todos) Update(ctx context.Context, c todo.Caller, id string, p todo.TodoPatch, ifMatch *time.Time) (todo.Todo, error) {
	if err := p.Validate(); err != nil {
		return todo.Todo{}, err
	}
	var t todo.Todo
	var updated bool
	var version *time.Time
	err := s.db.run(ctx, c, writes, func(b *pgx.Batch) {
		updated, version = false, nil
		b.Queue(updateTodo, id, p.Title, p.DescriptionSet, p.Description, p.Completed, ifMatch,
			p.OrganizationIDSet, p.OrganizationID).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				updated = true
				if err := scanTodo(rows, &t); err != nil {
					return err
				}
			}
			return rows.Err()
		})
		queueVersion(b, id, &version)
	})
	if errors.Is(err, todo.ErrForbidden) && p.OrganizationIDSet {
		// The new row failed WITH CHECK: moved into an organization the
		// caller is not a member of, or out to a personal todo of someone
		// else's.
		if p.OrganizationID != nil {
			return todo.Todo{}, todo.ErrNotAMember
		}
		return todo.Todo{}, todo.ErrNotAllowed
	}
	return t, writeOutcome(err, updated, version, ifMatch)
}

// Delete removes a todo under the same If-Match rule as Update. A todo the
// caller can see but may not delete (another member's, for a member who is
// neither an owner nor an admin of its organization) gives
// todo.ErrNotAllowed.
func (s *Todos) Delete(ctx context.Context, c todo.Caller, id string, ifMatch *time.Time) error {
	var deleted bool
	var version *time.Time
	err := s.db.run(ctx, c, writes, func(b *pgx.Batch) {
		deleted, version = false, nil
		b.Queue(deleteTodo, id, ifMatch).Exec(func(tag pgconn.CommandTag) error {
			deleted = tag.RowsAffected() == 1
			return nil
		})
		queueVersion(b, id, &version)
	})
	return writeOutcome(err, deleted, version, ifMatch)
}

// queueVersion reads the todo's version after a write, into *version (nil
// when the caller cannot see it).
func queueVersion(b *pgx.Batch, id string, version **time.Time) {
	b.Queue(todoVersion, id).Query(func(rows pgx.Rows) error {
		if rows.Next() {
			var v time.Time
			if err := rows.Scan(&v); err != nil {
				return err
			}
			*version = &v
		}
		return rows.Err()
	})
}

// writeOutcome turns "did the write happen, which version does the caller
// see now" into an error. A row the caller still sees was not written
// either because If-Match named another version (412) or because row level
// security let the caller see it but not change it (403); the version
// tells which.
func writeOutcome(err error, done bool, version, ifMatch *time.Time) error {
	switch {
	case err != nil:
		return err
	case done:
		return nil
	case version == nil:
		return todo.ErrNotFound
	case ifMatch != nil && !ifMatch.Equal(*version):
		return todo.ErrPreconditionFailed
	}
	return todo.ErrNotAllowed
}

func scanTodo(row pgx.Row, t *todo.Todo) error {
	return row.Scan(&t.ID, &t.UserID, &t.OrganizationID, &t.Title, &t.Description, &t.Completed, &t.CreatedAt, &t.UpdatedAt)
}
