package postgres

import (
	"bytes"
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate/internal/todo"
)

// The statements of a keyed create, sent in one batch after the identity.
// The advisory lock serialises concurrent requests with the same key: a
// second one waits for the first to commit, then sees its key and replays.
// createOnce's CTE either creates the todo and records its response, or
// returns the response recorded before, with the fingerprint it was
// recorded under; it never does both. All of it is one implicit
// transaction: a batch that fails creates nothing, and one whose outcome
// is unknown can be sent again, since its replay returns the first outcome.
const (
	lockIdempotencyKey = `select pg_advisory_xact_lock(hashtextextended((select app_user_id()) || '/' || $1, 0))`

	purgeExpiredKeys = `delete from idempotency_keys where expires_at <= now()`

	createOnce = `
with existing as (
  select fingerprint, response from idempotency_keys where key = $1
), created as (
  insert into todos (title, description, completed, organization_id)
  select $3, $4, $5, $7 where not exists (select from existing)
  returning id, user_id, organization_id, title, description, completed, created_at, updated_at
), recorded as (
  insert into idempotency_keys (key, fingerprint, response, expires_at)
  select $1, $2, to_jsonb(created), now() + $6::interval from created
)
select false, $2::bytea, id, user_id, organization_id, title, description, completed, created_at, updated_at
from created
union all
select true, e.fingerprint, r.id, r.user_id, r.organization_id, r.title, r.description, r.completed, r.created_at, r.updated_at
from existing e cross join lateral jsonb_populate_record(null::todos, e.response) r`
)

// CreateOnce creates a todo at most once per caller and Idempotency-Key:
// the first call creates it; a later call with the same key and the same
// request returns the todo as it was first returned, with replayed true,
// and creates nothing; with another request it returns todo.ErrKeyReused
// and changes nothing. Keys expire after Config.IdempotencyKeyTTL. Naming
// an organization the caller is not a member of gives todo.ErrNotAMember
// and records nothing.
func (s *Todos) CreateOnce(ctx context.Context, c todo.Caller, n todo.NewTodo, key string) (t todo.Todo, replayed bool, err error) {
	if err := n.Validate(); err != nil {
		return todo.Todo{}, false, err
	}
	if !todo.ValidIdempotencyKey(key) {
		return todo.Todo{}, false, &todo.ValidationError{Field: "Idempotency-Key", Reason: "must be 1 to 255 printable ASCII characters"}
	}
	want := n.Fingerprint()
	var got []byte
	err = s.db.run(ctx, c, keyedWrite, func(b *pgx.Batch) {
		b.Queue(lockIdempotencyKey, key)
		b.Queue(purgeExpiredKeys)
		b.Queue(createOnce, key, want[:], n.Title, n.Description, n.Completed, s.db.keyTTL, n.OrganizationID).QueryRow(func(row pgx.Row) error {
			return row.Scan(&replayed, &got, &t.ID, &t.UserID, &t.OrganizationID, &t.Title, &t.Description, &t.Completed, &t.CreatedAt, &t.UpdatedAt)
		})
	})
	switch {
	case n.OrganizationID != nil && errors.Is(err, todo.ErrForbidden):
		return todo.Todo{}, false, todo.ErrNotAMember
	case err != nil:
		return todo.Todo{}, false, err
	case !bytes.Equal(got, want[:]):
		return todo.Todo{}, false, todo.ErrKeyReused
	}
	return t, replayed, nil
}
