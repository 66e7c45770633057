package tests

import (
	"strings"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/todo"
)

// TestAPIProvisioning shows a caller never seen before getting a users row
// on their first request, seeded from the token's email and name claims;
// claims that are not usable are left out rather than refused, and later
// tokens do not overwrite the profile.
func TestAPIProvisioning(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	mint := func(c todo.Caller) string {
		tok, err := s.key.Mint(c, apiIssuer, apiAudience, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name      string
		caller    todo.Caller
		wantEmail any
		wantName  any
	}{
		{"Success", todo.Caller{ID: "new-user-1", Email: "new@example.com", Name: "New User"}, "new@example.com", "New User"},
		{"SuccessNoProfileClaims", todo.Caller{ID: "new-user-2"}, nil, nil},
		{"SuccessUnicode", todo.Caller{ID: "новый-3", Email: "ünï@example.com", Name: "Zoë 😀"}, "ünï@example.com", "Zoë 😀"},
		{"SuccessEmailTooLongDropped", todo.Caller{ID: "new-user-4", Email: strings.Repeat("e", 321), Name: "Four"}, nil, "Four"},
		{"SuccessNameWithControlDropped", todo.Caller{ID: "new-user-5", Email: "five@example.com", Name: "Fi\x07ve"}, "five@example.com", nil},
		{"SuccessLongestID", todo.Caller{ID: strings.Repeat("L", todo.MaxUserIDLen)}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mint(tt.caller)
			if n := s.count(t, `select count(*) from users where id = $1`, tt.caller.ID); n != 0 {
				t.Fatal("the user exists before their first request")
			}
			me := s.do(t, apiRequest{method: "GET", path: "/v1/me", bearer: tok})
			if me.Status != 200 {
				t.Fatalf("GET /v1/me: %d %s", me.Status, me.Body)
			}
			want := map[string]any{"id": tt.caller.ID, "email": tt.wantEmail, "name": tt.wantName}
			if key, ok := jsonSubset(want, me.object(t)); !ok {
				t.Errorf("GET /v1/me = %s; %s differs from %v", me.Body, key, want[key])
			}
			if n := s.count(t, `select count(*) from users where id = $1 and email is not distinct from $2 and name is not distinct from $3`,
				tt.caller.ID, tt.wantEmail, tt.wantName); n != 1 {
				t.Error("the users row does not hold the claims")
			}
			// A later token with other claims leaves the profile alone.
			later := mint(todo.Caller{ID: tt.caller.ID, Email: "changed@example.com", Name: "Changed"})
			again := s.do(t, apiRequest{method: "GET", path: "/v1/me", bearer: later}).object(t)
			if again["email"] != tt.wantEmail || again["name"] != tt.wantName {
				t.Errorf("a second token rewrote the profile: %v", again)
			}
		})
	}
	t.Run("ProvisionedByAWrite", func(t *testing.T) {
		resp := s.do(t, apiRequest{method: "POST", path: "/v1/todos", as: carol, body: `{"title":"first"}`})
		if resp.Status != 201 || s.count(t, `select count(*) from users where id = $1 and email = $2`, carol, apiEmailOf(carol)) != 1 {
			t.Errorf("first request a POST: %d; the users row was not created with the email claim", resp.Status)
		}
	})
}

// TestAPIDeleteMe deletes a user with todos: 204, the row and (by cascade)
// the todos are gone, other users keep theirs, a second DELETE is still
// 204, and the next request starts a fresh, empty account.
func TestAPIDeleteMe(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	seedAPI(t, s)
	seedManyTodos(t, s, alice, 5)
	bobBefore := s.rowsOf(t, bob)
	for i := range 2 {
		resp := s.do(t, apiRequest{method: "DELETE", path: "/v1/me", as: alice})
		if resp.Status != 204 || len(resp.Body) != 0 {
			t.Fatalf("DELETE /v1/me #%d: %d %q", i+1, resp.Status, resp.Body)
		}
		if n := s.count(t, `select count(*) from users where id = $1`, alice); n != 0 {
			t.Error("alice's users row survived")
		}
		if n := s.count(t, `select count(*) from todos where user_id = $1`, alice); n != 0 {
			t.Errorf("%d of alice's todos survived", n)
		}
	}
	if s.rowsOf(t, bob) != bobBefore {
		t.Error("deleting alice changed bob's todos")
	}
	if r := s.do(t, apiRequest{method: "GET", path: "/v1/todos/" + aliceTodo, as: alice}); r.Status != 404 {
		t.Errorf("alice's deleted todo: %d", r.Status)
	}
	p := apiDecode[apiPage](t, s.do(t, apiRequest{method: "GET", path: "/v1/todos", as: alice}).Body)
	if len(p.Items) != 0 {
		t.Errorf("after deleting herself alice lists %d todos", len(p.Items))
	}
	me := s.do(t, apiRequest{method: "GET", path: "/v1/me", as: alice}).object(t)
	if me["id"] != alice || me["email"] != apiEmailOf(alice) {
		t.Errorf("the account after deletion: %v, want a fresh one from the token", me)
	}
	if r := s.do(t, apiRequest{method: "POST", path: "/v1/todos", as: alice, body: `{"title":"again"}`}); r.Status != 201 {
		t.Errorf("creating a todo after deleting oneself: %d", r.Status)
	}
}
