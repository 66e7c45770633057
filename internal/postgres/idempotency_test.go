package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/postgres"
	"github.com/rowgate/rowgate/internal/todo"
)

func TestCreateOnce(t *testing.T) {
	t.Parallel()
	db, tdb := open(t, postgres.Config{})
	ctx := context.Background()
	desc := "with a description"
	n := todo.NewTodo{Title: "pay rent", Description: &desc}
	first, replayed, err := db.Todos().CreateOnce(ctx, alice, n, "key-1")
	if err != nil || replayed {
		t.Fatalf("first create: %+v, replayed %v, %v", first, replayed, err)
	}
	// The todo changes afterwards; a retry still gets the first response.
	done := true
	if _, err := db.Todos().Update(ctx, alice, first.ID, todo.TodoPatch{Completed: &done}, nil); err != nil {
		t.Fatal(err)
	}
	again, replayed, err := db.Todos().CreateOnce(ctx, alice, n, "key-1")
	if err != nil || !replayed || !sameTodo(again, first) {
		t.Fatalf("retry: %+v, replayed %v, %v; want the first response %+v", again, replayed, err, first)
	}
	other := todo.NewTodo{Title: "pay rent twice"}
	if _, _, err := db.Todos().CreateOnce(ctx, alice, other, "key-1"); !errors.Is(err, todo.ErrKeyReused) {
		t.Fatalf("same key, another request: %v, want ErrKeyReused", err)
	}
	// Keys are per caller: bob's key-1 is his own.
	bobs, replayed, err := db.Todos().CreateOnce(ctx, bob, n, "key-1")
	if err != nil || replayed || bobs.UserID != bob.ID || bobs.ID == first.ID {
		t.Fatalf("bob's key-1: %+v, replayed %v, %v", bobs, replayed, err)
	}
	var todos, keys int
	tdb.Conn(t, tdb.Superuser()).QueryRow(ctx, `select (select count(*) from todos), (select count(*) from idempotency_keys)`).Scan(&todos, &keys)
	if todos != 2 || keys != 2 {
		t.Fatalf("%d todos and %d keys, want 2 and 2", todos, keys)
	}
}

func sameTodo(a, b todo.Todo) bool {
	return a.ID == b.ID && a.UserID == b.UserID && a.Title == b.Title && a.Completed == b.Completed &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) &&
		(a.Description == nil) == (b.Description == nil) && (a.Description == nil || *a.Description == *b.Description)
}

// TestCreateOnceConcurrent: many requests with one key at once create one
// todo; every one of them answers with it.
func TestCreateOnceConcurrent(t *testing.T) {
	t.Parallel()
	db, tdb := open(t, postgres.Config{MaxConns: 8})
	ctx := context.Background()
	const n = 16
	ids := make([]string, n)
	replays := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			td, replayed, err := db.Todos().CreateOnce(ctx, alice, todo.NewTodo{Title: "once"}, "concurrent")
			if err != nil {
				t.Error(err)
			}
			ids[i], replays[i] = td.ID, replayed
		})
	}
	wg.Wait()
	fresh := 0
	for i := range n {
		if ids[i] != ids[0] {
			t.Errorf("request %d got todo %s, request 0 got %s", i, ids[i], ids[0])
		}
		if !replays[i] {
			fresh++
		}
	}
	var rows int
	tdb.Conn(t, tdb.Superuser()).QueryRow(ctx, `select count(*) from todos where title = 'once'`).Scan(&rows)
	if rows != 1 || fresh != 1 {
		t.Fatalf("%d rows, %d answers not replayed; want exactly one of each", rows, fresh)
	}
}

// TestCreateOnceExpiry: an expired key is forgotten, so it creates again.
func TestCreateOnceExpiry(t *testing.T) {
	t.Parallel()
	db, _ := open(t, postgres.Config{IdempotencyKeyTTL: 50 * time.Millisecond})
	ctx := context.Background()
	first, _, err := db.Todos().CreateOnce(ctx, alice, todo.NewTodo{Title: "t"}, "short-lived")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the key's TTL, in the database's clock
	second, replayed, err := db.Todos().CreateOnce(ctx, alice, todo.NewTodo{Title: "t"}, "short-lived")
	if err != nil || replayed || second.ID == first.ID {
		t.Fatalf("after expiry: %+v, replayed %v, %v; want a new todo", second, replayed, err)
	}
}

// TestCreateOnceAfterUserVanished: a keyed create whose caller's users row
// was deleted behind this process's back provisions it again, as a plain
// create does (the foreign key of any owned table's user_id says so).
func TestCreateOnceAfterUserVanished(t *testing.T) {
	t.Parallel()
	db, tdb := open(t, postgres.Config{})
	ctx := context.Background()
	mustCreate(t, db, alice, "known")
	tdb.Exec(t, "delete from users where id = $1", alice.ID)
	if _, _, err := db.Todos().CreateOnce(ctx, alice, todo.NewTodo{Title: "after"}, "k"); err != nil {
		t.Fatalf("keyed create after the users row vanished: %v", err)
	}
}
