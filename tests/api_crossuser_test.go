package tests

import (
	"fmt"
	"net/url"
	"reflect"
	"sync"
	"testing"
)

// TestAPICrossUser shows, over HTTP, that a caller can reach no other
// user's row through any route: reads, writes and deletes of another
// user's todo answer 404 with exactly the body a todo that does not exist
// gets (so nothing tells them apart), lists never contain another user's
// row, and the victim's rows are untouched afterwards. It runs both ways.
func TestAPICrossUser(t *testing.T) {
	t.Parallel()
	for _, pair := range []struct{ attacker, victim, victimTodo, victimDone string }{
		{alice, bob, bobTodo, bobDone},
		{bob, alice, aliceTodo, aliceDone},
	} {
		t.Run(pair.attacker[:5]+"Attacks"+pair.victim[:5], func(t *testing.T) {
			t.Parallel()
			s := newAPIServer(t)
			seedAPI(t, s)
			seedManyTodos(t, s, pair.attacker, 12)
			seedManyTodos(t, s, pair.victim, 12)
			victimTag := s.do(t, apiRequest{method: "GET", path: "/v1/todos/" + pair.victimTodo, as: pair.victim}).Header.Get("ETag")
			victimRows, victimUser := s.rowsOf(t, pair.victim), s.userRow(t, pair.victim)

			crossUserTodoRoutes(t, s, pair.attacker, pair.victimTodo, pair.victimDone, victimTag)
			crossUserLists(t, s, pair.attacker, pair.victim)
			crossUserMe(t, s, pair.attacker, pair.victim)

			if got := s.rowsOf(t, pair.victim); got != victimRows {
				t.Errorf("the victim's todos changed:\nbefore %s\nafter  %s", victimRows, got)
			}
			if got := s.userRow(t, pair.victim); got != victimUser {
				t.Errorf("the victim's users row changed:\nbefore %s\nafter  %s", victimUser, got)
			}
			again := s.do(t, apiRequest{method: "GET", path: "/v1/todos/" + pair.victimTodo, as: pair.victim})
			if again.Status != 200 || again.Header.Get("ETag") != victimTag {
				t.Errorf("the victim's own GET: %d, ETag %q (was %q)", again.Status, again.Header.Get("ETag"), victimTag)
			}
		})
	}
}

// crossUserTodoRoutes tries every /v1/todos/{id} operation on the victim's
// todos and compares each answer with the same call on a todo that does
// not exist.
func crossUserTodoRoutes(t *testing.T, s *apiServer, attacker, victimTodo, victimDone, victimTag string) {
	t.Helper()
	calls := []struct {
		name, method, body string
		header             map[string]string
	}{
		{"Get", "GET", "", nil},
		{"GetIfNoneMatch", "GET", "", map[string]string{"If-None-Match": victimTag}},
		{"GetIfNoneMatchAny", "GET", "", map[string]string{"If-None-Match": "*"}},
		{"Patch", "PATCH", `{"title":"pwned"}`, nil},
		{"PatchCompleted", "PATCH", `{"completed":true,"description":null}`, nil},
		{"PatchEmpty", "PATCH", `{}`, nil},
		{"PatchIfMatch", "PATCH", `{"title":"pwned"}`, map[string]string{"If-Match": victimTag}},
		{"PatchIfMatchStale", "PATCH", `{"title":"pwned"}`, map[string]string{"If-Match": `"0"`}},
		{"PatchIfMatchAny", "PATCH", `{"title":"pwned"}`, map[string]string{"If-Match": "*"}},
		{"Delete", "DELETE", "", nil},
		{"DeleteIfMatch", "DELETE", "", map[string]string{"If-Match": victimTag}},
		{"DeleteIfMatchStale", "DELETE", "", map[string]string{"If-Match": `"0"`}},
		{"DeleteIfMatchAny", "DELETE", "", map[string]string{"If-Match": "*"}},
	}
	for _, c := range calls {
		for _, id := range []string{victimTodo, victimDone} {
			name := c.name + "/NotFound"
			if id == victimDone {
				name += "Completed"
			}
			t.Run(name, func(t *testing.T) {
				before := s.snapshot(t)
				theirs := s.do(t, apiRequest{method: c.method, path: "/v1/todos/" + id, as: attacker, body: c.body, header: c.header})
				missing := s.do(t, apiRequest{method: c.method, path: "/v1/todos/" + noSuchTodo, as: attacker, body: c.body, header: c.header})
				if theirs.Status != 404 || missing.Status != 404 {
					t.Fatalf("another user's todo: %d %s; a missing one: %d", theirs.Status, clipBody(theirs.Body), missing.Status)
				}
				if a, b := problemWithoutRequestID(t, theirs.Body), problemWithoutRequestID(t, missing.Body); !reflect.DeepEqual(a, b) {
					t.Errorf("404 bodies differ:\nanother user's todo %s\nmissing todo        %s", theirs.Body, missing.Body)
				}
				for _, h := range []string{"ETag", "Content-Type", "WWW-Authenticate", "Location"} {
					if theirs.Header.Get(h) != missing.Header.Get(h) {
						t.Errorf("header %s: %q for another user's todo, %q for a missing one", h, theirs.Header.Get(h), missing.Header.Get(h))
					}
				}
				if after := s.snapshot(t); after != before {
					t.Errorf("the database changed:\nbefore %s\nafter  %s", before, after)
				}
			})
		}
	}
}

// crossUserLists walks every list the attacker can ask for, page by page,
// and checks that each holds exactly the attacker's own rows.
func crossUserLists(t *testing.T, s *apiServer, attacker, victim string) {
	t.Helper()
	for _, filter := range []string{"", "true", "false"} {
		for _, limit := range []string{"", "1", "5", "100"} {
			t.Run(fmt.Sprintf("List/completed=%s/limit=%s", filter, limit), func(t *testing.T) {
				q := url.Values{}
				if filter != "" {
					q.Set("completed", filter)
				}
				if limit != "" {
					q.Set("limit", limit)
				}
				got := walkList(t, s, attacker, q)
				want := s.idsOf(t, attacker, filter)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("the pages hold %d ids %v,\nwant the caller's %d: %v", len(got), got, len(want), want)
				}
				for _, id := range s.idsOf(t, victim, "") {
					for _, g := range got {
						if g == id {
							t.Errorf("the list holds the victim's todo %s", id)
						}
					}
				}
			})
		}
	}
}

// crossUserMe shows /v1/me only ever touches the caller's own row, and a
// body cannot plant a todo in the victim's list.
func crossUserMe(t *testing.T, s *apiServer, attacker, victim string) {
	t.Helper()
	t.Run("Me/OnlyOwnRow", func(t *testing.T) {
		me := s.do(t, apiRequest{method: "GET", path: "/v1/me", as: attacker}).object(t)
		if me["id"] != attacker {
			t.Errorf("/v1/me answered %v", me)
		}
		s.do(t, apiRequest{method: "PATCH", path: "/v1/me", as: attacker, body: `{"name":"renamed"}`})
	})
	t.Run("Create/ErrOwnerField", func(t *testing.T) {
		before := s.snapshot(t)
		for _, body := range []string{
			`{"title":"planted","user_id":"` + victim + `"}`,
			`{"user_id":"` + victim + `","title":"planted"}`,
			`{"title":"planted","id":"` + noSuchTodo + `","user_id":"` + victim + `"}`,
		} {
			resp := s.do(t, apiRequest{method: "POST", path: "/v1/todos", as: attacker, body: body})
			if resp.Status != 400 || resp.problem(t).Code != codeUnknownField {
				t.Errorf("POST %s: %d %s", body, resp.Status, resp.Body)
			}
		}
		if after := s.snapshot(t); after != before {
			t.Errorf("the database changed:\nbefore %s\nafter  %s", before, after)
		}
	})
	t.Run("DeleteMe/OnlyOwnRow", func(t *testing.T) {
		victimTodos := s.rowsOf(t, victim)
		if resp := s.do(t, apiRequest{method: "DELETE", path: "/v1/me", as: attacker}); resp.Status != 204 {
			t.Fatalf("DELETE /v1/me: %d", resp.Status)
		}
		if n := s.count(t, `select count(*) from todos where user_id = $1`, attacker); n != 0 {
			t.Errorf("%d of the caller's todos survived", n)
		}
		if got := s.rowsOf(t, victim); got != victimTodos {
			t.Error("deleting oneself changed the victim's todos")
		}
	})
}

// TestAPIConcurrentCallersSeeOnlyTheirOwn runs many callers at once through
// a two-connection pool, so connections pass from one identity to the next
// constantly; every answer must hold only its caller's rows (checked by
// checkAPIOwnership on every response) and each list the right count.
func TestAPIConcurrentCallersSeeOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t, func(c *apiConfig) { c.app.DBMaxConns = 2 })
	users := []string{alice, bob, carol, dave}
	want := map[string]int{}
	for i, u := range users {
		s.exec(t, `insert into users (id) values ($1)`, u)
		seedManyTodos(t, s, u, i+1)
		want[u] = i + 1
	}
	s.exec(t, `insert into todos (id, user_id, title) values ($1, $2, 'bob''s todo')`, bobTodo, bob)
	want[bob]++
	var wg sync.WaitGroup
	for i := range 160 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := users[i%len(users)]
			r := apiRequest{method: "GET", path: "/v1/todos", as: u}
			if i%5 == 4 {
				r = apiRequest{method: "GET", path: "/v1/todos/" + bobTodo, as: u}
			}
			resp, err := s.try(t, r)
			switch {
			case err != nil:
				t.Error(err)
			case r.path == "/v1/todos" && resp.Status == 200:
				if n := len(apiDecode[apiPage](t, resp.Body).Items); n != want[u] {
					t.Errorf("%s listed %d todos, want %d", u, n, want[u])
				}
			case r.path != "/v1/todos" && (resp.Status == 200) != (u == bob):
				t.Errorf("%s %s as %s: %d", r.method, r.path, u, resp.Status)
			}
		}()
	}
	wg.Wait()
}

// walkList follows next_cursor from the first page to the last and returns
// the ids in order.
func walkList(t *testing.T, s *apiServer, as string, q url.Values) []string {
	t.Helper()
	var ids []string
	for page := 0; ; page++ {
		if page > 200 {
			t.Fatal("more than 200 pages: the cursor does not advance")
		}
		path := "/v1/todos"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		resp := s.do(t, apiRequest{method: "GET", path: path, as: as})
		if resp.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.Status, resp.Body)
		}
		p := apiDecode[apiPage](t, resp.Body)
		for _, it := range p.Items {
			if it.UserID != as {
				t.Errorf("GET %s as %s: item %s belongs to %s", path, as, it.ID, it.UserID)
			}
			ids = append(ids, it.ID)
		}
		if p.NextCursor == nil {
			return ids
		}
		q = cloneValues(q)
		q.Set("cursor", *p.NextCursor)
	}
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// idsOf returns user's todo ids newest first, as the superuser reads them;
// completed filters when "true" or "false".
func (s *apiServer) idsOf(t *testing.T, user, completed string) []string {
	t.Helper()
	rows, err := s.Admin.Query(t.Context(), `
select id::text from todos
where user_id = $1 and ($2 = '' or completed = ($2 = 'true'))
order by created_at desc, id desc`, user, completed)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// userRow returns user's users row as JSON, read as the superuser.
func (s *apiServer) userRow(t *testing.T, user string) string {
	t.Helper()
	var row string
	err := s.Admin.QueryRow(t.Context(), `
select coalesce((select row_to_json(u)::text from (select id, email, name, created_at, updated_at from users where id = $1) u), '')`, user).Scan(&row)
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// seedManyTodos gives user n more todos, every third completed, some
// sharing a created_at so that paging must break ties by id.
func seedManyTodos(t testing.TB, s *apiServer, user string, n int) {
	t.Helper()
	s.exec(t, `
insert into todos (user_id, title, completed, created_at)
select $1, 'todo ' || i, i % 3 = 0, timestamptz '2026-01-01' + (i / 2) * interval '1 minute'
from generate_series(1, $2) i`, user, n)
}
