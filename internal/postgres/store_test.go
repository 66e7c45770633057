package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/postgres"
	"github.com/rowgate/rowgate/internal/todo"
)

func TestTodosIsolation(t *testing.T) {
	t.Parallel()
	db, _ := open(t, postgres.Config{})
	ctx := context.Background()
	mine := mustCreate(t, db, alice, "alice's")
	theirs := mustCreate(t, db, bob, "bob's")
	if mine.UserID != alice.ID || theirs.UserID != bob.ID {
		t.Fatalf("owners = %s, %s; the database must fill user_id from the caller", mine.UserID, theirs.UserID)
	}
	title := "pwned"
	checks := map[string]error{
		"Get": func() error { _, err := db.Todos().Get(ctx, alice, theirs.ID); return err }(),
		"Update": func() error {
			_, err := db.Todos().Update(ctx, alice, theirs.ID, todo.TodoPatch{Title: &title}, nil)
			return err
		}(),
		"Delete": db.Todos().Delete(ctx, alice, theirs.ID, nil),
		"GetMissing": func() error {
			_, err := db.Todos().Get(ctx, alice, "00000000-0000-4000-8000-000000000000")
			return err
		}(),
	}
	for name, err := range checks {
		if !errors.Is(err, todo.ErrNotFound) {
			t.Errorf("%s of bob's todo as alice: err = %v, want ErrNotFound", name, err)
		}
	}
	page, err := db.Todos().List(ctx, alice, todo.ListQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != mine.ID {
		t.Fatalf("alice's list = %+v, want only her todo", page.Items)
	}
	still, err := db.Todos().Get(ctx, bob, theirs.ID)
	if err != nil || still.Title != "bob's" {
		t.Fatalf("bob's todo after alice's attempts: %+v, %v", still, err)
	}
}

func TestTodosPreconditions(t *testing.T) {
	t.Parallel()
	db, _ := open(t, postgres.Config{})
	ctx := context.Background()
	td := mustCreate(t, db, alice, "v1")
	stale := td.UpdatedAt
	title := "v2"
	updated, err := db.Todos().Update(ctx, alice, td.ID, todo.TodoPatch{Title: &title}, &stale)
	if err != nil {
		t.Fatalf("update with the current version: %v", err)
	}
	if !updated.UpdatedAt.After(stale) {
		t.Fatalf("updated_at did not move: %v -> %v", stale, updated.UpdatedAt)
	}
	title = "v3"
	if _, err := db.Todos().Update(ctx, alice, td.ID, todo.TodoPatch{Title: &title}, &stale); !errors.Is(err, todo.ErrPreconditionFailed) {
		t.Fatalf("update with a stale version: err = %v, want ErrPreconditionFailed", err)
	}
	if err := db.Todos().Delete(ctx, alice, td.ID, &stale); !errors.Is(err, todo.ErrPreconditionFailed) {
		t.Fatalf("delete with a stale version: err = %v, want ErrPreconditionFailed", err)
	}
	got, _ := db.Todos().Get(ctx, alice, td.ID)
	if got.Title != "v2" {
		t.Fatalf("a failed precondition changed the todo: %q", got.Title)
	}
	if err := db.Todos().Delete(ctx, alice, td.ID, &updated.UpdatedAt); err != nil {
		t.Fatalf("delete with the current version: %v", err)
	}
	if err := db.Todos().Delete(ctx, alice, td.ID, nil); !errors.Is(err, todo.ErrNotFound) {
		t.Fatalf("second delete: err = %v, want ErrNotFound", err)
	}
}

func TestTodosListPagination(t *testing.T) {
	t.Parallel()
	db, _ := open(t, postgres.Config{})
	ctx := context.Background()
	for i := 0; i < 25; i++ {
		n := todo.NewTodo{Title: fmt.Sprintf("t%02d", i), Completed: i%2 == 0}
		if _, err := db.Todos().Create(ctx, alice, n); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, db, bob, "bob's")
	for _, tc := range []struct {
		name      string
		completed *bool
		want      int
	}{{"All", nil, 25}, {"Completed", ptr(true), 13}, {"Open", ptr(false), 12}} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			var last *todo.Todo
			q := todo.ListQuery{Limit: 10, Completed: tc.completed}
			for pages := 0; ; pages++ {
				page, err := db.Todos().List(ctx, alice, q)
				if err != nil {
					t.Fatal(err)
				}
				for i := range page.Items {
					it := page.Items[i]
					if seen[it.ID] || it.UserID != alice.ID || (tc.completed != nil && it.Completed != *tc.completed) {
						t.Fatalf("page %d: unexpected item %+v", pages, it)
					}
					if last != nil && (it.CreatedAt.After(last.CreatedAt) || it.CreatedAt.Equal(last.CreatedAt) && it.ID > last.ID) {
						t.Fatalf("not newest first: %v after %v", it, *last)
					}
					seen[it.ID], last = true, &it
				}
				if page.Next == nil {
					break
				}
				q.After = page.Next
			}
			if len(seen) != tc.want {
				t.Fatalf("saw %d todos, want %d", len(seen), tc.want)
			}
		})
	}
}

func TestUsersProvisioning(t *testing.T) {
	t.Parallel()
	db, tdb := open(t, postgres.Config{})
	ctx := context.Background()
	me, err := db.Users().Me(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if me.ID != alice.ID || me.Email == nil || *me.Email != alice.Email || me.Name == nil || *me.Name != "Alice" {
		t.Fatalf("provisioned user = %+v", me)
	}
	// Deleted behind this process's back: the next request provisions again.
	tdb.Exec(t, "delete from users where id = $1", alice.ID)
	if _, err := db.Todos().Create(ctx, alice, todo.NewTodo{Title: "after"}); err != nil {
		t.Fatalf("create after the users row vanished: %v", err)
	}
	tdb.Exec(t, "delete from users where id = $1", alice.ID)
	if _, err := db.Users().Me(ctx, alice); err != nil {
		t.Fatalf("me after the users row vanished: %v", err)
	}
	name := "Alice Liddell"
	if u, err := db.Users().UpdateMe(ctx, alice, todo.UserPatch{NameSet: true, Name: &name}); err != nil || *u.Name != name {
		t.Fatalf("update me: %+v, %v", u, err)
	}
	mustCreate(t, db, alice, "goes with me")
	if err := db.Users().DeleteMe(ctx, alice); err != nil {
		t.Fatal(err)
	}
	conn := tdb.Conn(t, tdb.Superuser())
	var users, todos int
	conn.QueryRow(ctx, "select (select count(*) from users where id = $1), (select count(*) from todos where user_id = $1)", alice.ID).Scan(&users, &todos)
	if users != 0 || todos != 0 {
		t.Fatalf("after DeleteMe: %d users rows, %d todos left", users, todos)
	}
}

func TestValidationBeforeDatabase(t *testing.T) {
	t.Parallel()
	db, _ := open(t, postgres.Config{})
	var v *todo.ValidationError
	_, err := db.Todos().Create(context.Background(), alice, todo.NewTodo{Title: "   "})
	if !errors.As(err, &v) || v.Field != "title" {
		t.Fatalf("blank title: err = %v, want a title ValidationError", err)
	}
}

func TestExpiredContextIsUnavailable(t *testing.T) {
	t.Parallel()
	db, _ := open(t, postgres.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	_, err := db.Todos().List(ctx, alice, todo.ListQuery{Limit: 1})
	if !errors.Is(err, todo.ErrUnavailable) {
		t.Fatalf("expired context: err = %v, want ErrUnavailable", err)
	}
}

func ptr[T any](v T) *T { return &v }
