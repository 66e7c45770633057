package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowgate/rowgate/internal/todo"
)

// RunForTest sends one statement through the door as caller, as a write,
// and returns the command tag's text.
func RunForTest(ctx context.Context, db *DB, caller todo.Caller, sql string) (string, error) {
	var tag string
	err := db.run(ctx, caller, writes, func(b *pgx.Batch) {
		b.Queue(sql).Exec(func(ct pgconn.CommandTag) error { tag = ct.String(); return nil })
	})
	return tag, err
}
