package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/pgtest"
	"github.com/rowgate/rowgate/internal/postgres"
	"github.com/rowgate/rowgate/internal/todo"
)

// TestRoundTrips shows the cost of each operation once its statements are
// prepared: one round trip for a read, and one for a write too (the
// identity, the write and the precondition check share one batch).
func TestRoundTrips(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"cache_statement", "cache_describe"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var rt roundTrips
			tdb := pgtest.NewDB(t)
			db, _ := open(t, postgres.Config{URL: tdb.URL(pgtest.App) + "&default_query_exec_mode=" + mode, MaxConns: 1, DialFunc: rt.dial})
			ctx := context.Background()
			first := mustCreate(t, db, alice, "warm-up")
			done := false
			ops := []struct {
				name string
				max  int64
				run  func() error
			}{
				{"List", 1, func() error { _, err := db.Todos().List(ctx, alice, todo.ListQuery{Limit: 20}); return err }},
				{"ListCompletedAfter", 1, func() error {
					_, err := db.Todos().List(ctx, alice, todo.ListQuery{Limit: 20, Completed: &done, After: &todo.Cursor{CreatedAt: time.Now(), ID: first.ID}})
					return err
				}},
				{"Get", 1, func() error { _, err := db.Todos().Get(ctx, alice, first.ID); return err }},
				{"Me", 1, func() error { _, err := db.Users().Me(ctx, alice); return err }},
				{"Create", 2, func() error { _, err := db.Todos().Create(ctx, alice, todo.NewTodo{Title: "t"}); return err }},
				{"Update", 2, func() error {
					title := "u"
					_, err := db.Todos().Update(ctx, alice, first.ID, todo.TodoPatch{Title: &title}, nil)
					return err
				}},
				{"UpdateMe", 2, func() error {
					name := "A"
					_, err := db.Users().UpdateMe(ctx, alice, todo.UserPatch{NameSet: true, Name: &name})
					return err
				}},
				{"Delete", 2, func() error {
					td := mustCreate(t, db, alice, "doomed")
					rt.n.Store(0)
					return db.Todos().Delete(ctx, alice, td.ID, nil)
				}},
			}
			for _, op := range ops {
				if err := op.run(); err != nil { // prepares the statements
					t.Fatalf("%s: %v", op.name, err)
				}
				rt.n.Store(0)
				if err := op.run(); err != nil {
					t.Fatalf("%s: %v", op.name, err)
				}
				if got := rt.n.Load(); got > op.max || got == 0 {
					t.Errorf("%s took %d round trips, want at most %d", op.name, got, op.max)
				} else {
					t.Logf("%s: %d round trip(s)", op.name, got)
				}
			}
		})
	}
}
