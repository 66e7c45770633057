package postgres_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/rowgate/rowgate/internal/pgtest"
	"github.com/rowgate/rowgate/internal/postgres"
	"github.com/rowgate/rowgate/internal/todo"
)

// addMember records, as Better Auth would, that user holds roles in org
// (creating org if needed).
func addMember(t *testing.T, tdb *pgtest.DB, org, user, roles string) {
	t.Helper()
	tdb.Exec(t, `insert into better_auth.organization (id, name, slug, "createdAt") values ($1, 'Org ' || $1, $1, now())
		on conflict (id) do nothing`, org)
	tdb.Exec(t, `insert into better_auth.member (id, "organizationId", "userId", role, "createdAt")
		values ($1 || '/' || $2, $1, $2, $3, now())`, org, user, roles)
}

var carol = todo.Caller{ID: "carol000000000000000000000000ccc"}

func TestOrganizationsList(t *testing.T) {
	t.Parallel()
	db, tdb := open(t, postgres.Config{})
	ctx := context.Background()
	addMember(t, tdb, "acme", alice.ID, "owner")
	addMember(t, tdb, "beta", alice.ID, " admin, member,")
	addMember(t, tdb, "beta", bob.ID, "member")
	got, err := db.Organizations().List(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	want := []todo.Organization{{ID: "acme", Name: "Org acme", Roles: []string{"owner"}}, {ID: "beta", Name: "Org beta", Roles: []string{"admin", "member"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("alice's organizations = %+v, want %+v", got, want)
	}
	if got, err := db.Organizations().List(ctx, carol); err != nil || len(got) != 0 {
		t.Fatalf("carol's organizations = %+v, %v; want none", got, err)
	}
}

func TestOrganizationTodos(t *testing.T) {
	t.Parallel()
	db, tdb := open(t, postgres.Config{})
	ctx := context.Background()
	acme := "acme"
	addMember(t, tdb, acme, alice.ID, "owner")
	addMember(t, tdb, acme, bob.ID, "member")
	shared, err := db.Todos().Create(ctx, alice, todo.NewTodo{Title: "shared", OrganizationID: &acme})
	if err != nil || shared.OrganizationID == nil || *shared.OrganizationID != acme || shared.UserID != alice.ID {
		t.Fatalf("create in acme as its owner: %+v, %v", shared, err)
	}
	if got, err := db.Todos().Get(ctx, bob, shared.ID); err != nil || got.ID != shared.ID {
		t.Fatalf("a member reads the organization's todo: %+v, %v", got, err)
	}
	if _, err := db.Todos().Get(ctx, carol, shared.ID); !errors.Is(err, todo.ErrNotFound) {
		t.Fatalf("a non-member reads it: err = %v, want ErrNotFound", err)
	}
	for name, org := range map[string]string{"NotAMember": acme, "NoSuchOrganization": "nope"} {
		if _, err := db.Todos().Create(ctx, carol, todo.NewTodo{Title: "x", OrganizationID: &org}); !errors.Is(err, todo.ErrNotAMember) {
			t.Errorf("%s: create as carol: err = %v, want ErrNotAMember", name, err)
		}
		if _, _, err := db.Todos().CreateOnce(ctx, carol, todo.NewTodo{Title: "x", OrganizationID: &org}, "k-"+name); !errors.Is(err, todo.ErrNotAMember) {
			t.Errorf("%s: keyed create as carol: err = %v, want ErrNotAMember", name, err)
		}
	}

	// A plain member may not delete another member's todo: 403, not 412
	// or 404, with or without the right If-Match; a stale one is still 412.
	stale := shared.UpdatedAt.Add(-1)
	if err := db.Todos().Delete(ctx, bob, shared.ID, nil); !errors.Is(err, todo.ErrNotAllowed) {
		t.Errorf("delete another member's todo: err = %v, want ErrNotAllowed", err)
	}
	if err := db.Todos().Delete(ctx, bob, shared.ID, &shared.UpdatedAt); !errors.Is(err, todo.ErrNotAllowed) {
		t.Errorf("delete another member's todo with its ETag: err = %v, want ErrNotAllowed", err)
	}
	if err := db.Todos().Delete(ctx, bob, shared.ID, &stale); !errors.Is(err, todo.ErrPreconditionFailed) {
		t.Errorf("delete another member's todo with a stale ETag: err = %v, want ErrPreconditionFailed", err)
	}

	// Moving: out to a personal todo only by its creator; into an
	// organization only by a member of it.
	if _, err := db.Todos().Update(ctx, bob, shared.ID, todo.TodoPatch{OrganizationIDSet: true}, nil); !errors.Is(err, todo.ErrNotAllowed) {
		t.Errorf("make another member's todo personal: err = %v, want ErrNotAllowed", err)
	}
	nope := "nope"
	if _, err := db.Todos().Update(ctx, bob, shared.ID, todo.TodoPatch{OrganizationIDSet: true, OrganizationID: &nope}, nil); !errors.Is(err, todo.ErrNotAMember) {
		t.Errorf("move into an organization bob is not in: err = %v, want ErrNotAMember", err)
	}
	mine, err := db.Todos().Update(ctx, alice, shared.ID, todo.TodoPatch{OrganizationIDSet: true}, nil)
	if err != nil || mine.OrganizationID != nil {
		t.Fatalf("the creator makes it personal: %+v, %v", mine, err)
	}
	if _, err := db.Todos().Get(ctx, bob, shared.ID); !errors.Is(err, todo.ErrNotFound) {
		t.Errorf("bob still sees alice's todo after she made it personal: err = %v", err)
	}
}

func TestOrganizationList(t *testing.T) {
	t.Parallel()
	db, tdb := open(t, postgres.Config{})
	ctx := context.Background()
	acme := "acme"
	addMember(t, tdb, acme, alice.ID, "member")
	addMember(t, tdb, acme, bob.ID, "member")
	for _, c := range []todo.Caller{alice, bob, alice} {
		if _, err := db.Todos().Create(ctx, c, todo.NewTodo{Title: "shared by " + c.ID, OrganizationID: &acme}); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, db, alice, "alice's own")
	page, err := db.Todos().List(ctx, bob, todo.ListQuery{Limit: 2, OrganizationID: &acme})
	if err != nil || len(page.Items) != 2 || page.Next == nil {
		t.Fatalf("first page of acme as bob: %+v, %v", page, err)
	}
	rest, err := db.Todos().List(ctx, bob, todo.ListQuery{Limit: 2, OrganizationID: &acme, After: page.Next})
	if err != nil || len(rest.Items) != 1 || rest.Next != nil {
		t.Fatalf("second page of acme as bob: %+v, %v", rest, err)
	}
	personal, err := db.Todos().List(ctx, bob, todo.ListQuery{Limit: 10})
	if err != nil || len(personal.Items) != 0 {
		t.Fatalf("bob's personal list shows %+v, %v; want nothing (the organization's todos are not his personal ones)", personal.Items, err)
	}
	tdb.Exec(t, `delete from better_auth.member where "userId" = $1`, bob.ID)
	gone, err := db.Todos().List(ctx, bob, todo.ListQuery{Limit: 10, OrganizationID: &acme})
	if err != nil || len(gone.Items) != 0 {
		t.Fatalf("acme's list for bob after his removal: %+v, %v; want nothing", gone.Items, err)
	}
}
