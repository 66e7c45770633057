package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowgate/rowgate/internal/todo"
)

// The statements below carry no ownership filter: row level security adds
// `user_id = (select app_user_id())` to every one of them. The list
// statements are served by todos_user_id_created_at_id_idx with no Sort.
const (
	listTodos = `
select id, user_id, title, description, completed, created_at, updated_at
from todos
order by created_at desc, id desc
limit $1`
	listTodosAfter = `
select id, user_id, title, description, completed, created_at, updated_at
from todos
where (created_at, id) < ($2, $3)
order by created_at desc, id desc
limit $1`
	listTodosCompleted = `
select id, user_id, title, description, completed, created_at, updated_at
from todos
where completed = $2
order by created_at desc, id desc
limit $1`
	listTodosCompletedAfter = `
select id, user_id, title, description, completed, created_at, updated_at
from todos
where completed = $2 and (created_at, id) < ($3, $4)
order by created_at desc, id desc
limit $1`

	getTodo = `
select id, user_id, title, description, completed, created_at, updated_at
from todos
where id = $1`

	// user_id is not named: its default is app_user_id().
	createTodo = `
insert into todos (title, description, completed)
values ($1, $2, $3)
returning id, user_id, title, description, completed, created_at, updated_at`

	// $6 is the If-Match precondition: the updated_at the client last saw.
	updateTodo = `
update todos set
  title = coalesce($2::text, title),
  description = case when $3::boolean then $4::text else description end,
  completed = coalesce($5::boolean, completed)
where id = $1 and ($6::timestamptz is null or updated_at = $6)
returning id, user_id, title, description, completed, created_at, updated_at`

	deleteTodo = `
delete from todos
where id = $1 and ($2::timestamptz is null or updated_at = $2)
returning id`

	// Queued after an update or delete in the same transaction: whether the
	// row is (still) there tells a failed precondition from a missing row.
	todoVersion = `select updated_at from todos where id = $1`
)

// Todos is the store of the caller's todos.
type Todos struct{ db *DB }

// Todos returns the todo store.
func (db *DB) Todos() *Todos { return &Todos{db: db} }

// List returns a page of the caller's todos, newest first. It never
// returns another user's todo: the database filters them out.
func (s *Todos) List(ctx context.Context, c todo.Caller, q todo.ListQuery) (todo.Page, error) {
	sql, args := listStatement(q)
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

// listStatement picks one of the four constant statements; it asks for one
// row more than the limit, to know whether another page follows.
func listStatement(q todo.ListQuery) (string, []any) {
	limit := q.Limit + 1
	switch {
	case q.Completed == nil && q.After == nil:
		return listTodos, []any{limit}
	case q.Completed == nil:
		return listTodosAfter, []any{limit, q.After.CreatedAt, q.After.ID}
	case q.After == nil:
		return listTodosCompleted, []any{limit, *q.Completed}
	default:
		return listTodosCompletedAfter, []any{limit, *q.Completed, q.After.CreatedAt, q.After.ID}
	}
}

// Get returns the caller's todo, or todo.ErrNotFound if it does not exist
// or belongs to someone else.
func (s *Todos) Get(ctx context.Context, c todo.Caller, id string) (todo.Todo, error) {
	var t todo.Todo
	err := s.db.run(ctx, c, reads, func(b *pgx.Batch) {
		b.Queue(getTodo, id).QueryRow(func(row pgx.Row) error { return scanTodo(row, &t) })
	})
	return t, err
}

// Create inserts a todo owned by the caller and returns it as stored.
func (s *Todos) Create(ctx context.Context, c todo.Caller, n todo.NewTodo) (todo.Todo, error) {
	if err := n.Validate(); err != nil {
		return todo.Todo{}, err
	}
	var t todo.Todo
	err := s.db.run(ctx, c, writes, func(b *pgx.Batch) {
		b.Queue(createTodo, n.Title, n.Description, n.Completed).QueryRow(func(row pgx.Row) error { return scanTodo(row, &t) })
	})
	return t, err
}

// Update applies a partial update. ifMatch, when non-nil, is the
// updated_at the caller last saw: if the todo changed since, nothing is
// written and todo.ErrPreconditionFailed is returned. A todo that does not
// exist or belongs to someone else gives todo.ErrNotFound.
func (s *Todos) Update(ctx context.Context, c todo.Caller, id string, p todo.TodoPatch, ifMatch *time.Time) (todo.Todo, error) {
	if err := p.Validate(); err != nil {
		return todo.Todo{}, err
	}
	var t todo.Todo
	var updated, exists bool
	err := s.db.run(ctx, c, writes, func(b *pgx.Batch) {
		updated, exists = false, false
		b.Queue(updateTodo, id, p.Title, p.DescriptionSet, p.Description, p.Completed, ifMatch).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				updated = true
				if err := scanTodo(rows, &t); err != nil {
					return err
				}
			}
			return rows.Err()
		})
		b.Queue(todoVersion, id).Query(func(rows pgx.Rows) error {
			exists = rows.Next()
			rows.Close()
			return rows.Err()
		})
	})
	return t, outcome(err, updated, exists)
}

// Delete removes the caller's todo, under the same If-Match rule as Update.
func (s *Todos) Delete(ctx context.Context, c todo.Caller, id string, ifMatch *time.Time) error {
	var deleted, exists bool
	err := s.db.run(ctx, c, writes, func(b *pgx.Batch) {
		deleted, exists = false, false
		b.Queue(deleteTodo, id, ifMatch).Exec(func(tag pgconn.CommandTag) error {
			deleted = tag.RowsAffected() == 1
			return nil
		})
		b.Queue(todoVersion, id).Query(func(rows pgx.Rows) error {
			exists = rows.Next()
			rows.Close()
			return rows.Err()
		})
	})
	return outcome(err, deleted, exists)
}

// outcome turns "did the write happen, is the row there" into an error.
func outcome(err error, done, exists bool) error {
	switch {
	case err != nil:
		return err
	case done:
		return nil
	case exists:
		return todo.ErrPreconditionFailed
	}
	return todo.ErrNotFound
}

func scanTodo(row pgx.Row, t *todo.Todo) error {
	return row.Scan(&t.ID, &t.UserID, &t.Title, &t.Description, &t.Completed, &t.CreatedAt, &t.UpdatedAt)
}
