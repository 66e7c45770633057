package tests

import (
	"context"
	"testing"
	"time"
)

// lockTodo holds a row lock on todo id from a superuser transaction until
// the returned release is called (or the test ends), so writes to it wait.
func lockTodo(t *testing.T, s *apiServer, id string) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn := s.DB.Conn(t, s.DB.Superuser())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := tx.QueryRow(ctx, `select id::text from todos where id = $1 for update`, id).Scan(&got); err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			tx.Rollback(ctx)
		}
	}
	t.Cleanup(release)
	return release
}

// TestAPIRequestTimeout shows a request that waits on the database longer
// than REQUEST_TIMEOUT answering 503 problem+json with Retry-After (not
// 500), writing nothing, and the server recovering once the lock is gone.
func TestAPIRequestTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	s := newAPIServer(t, func(c *apiConfig) { c.app.RequestTimeout = timeout })
	seedAPI(t, s)
	checkTimeouts(t, s, timeout)
}

// TestAPIStatementTimeout is the same with the statement timeout, set per
// transaction in the database, firing first (SQLSTATE 57014).
func TestAPIStatementTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	s := newAPIServer(t, func(c *apiConfig) { c.app.StatementTimeout = timeout })
	seedAPI(t, s)
	checkTimeouts(t, s, timeout)
}

func checkTimeouts(t *testing.T, s *apiServer, timeout time.Duration) {
	t.Helper()
	release := lockTodo(t, s, aliceTodo)
	before := s.snapshot(t)
	for _, r := range []apiRequest{
		{method: "PATCH", path: "/v1/todos/" + aliceTodo, as: alice, body: `{"title":"late"}`, allow503: true},
		{method: "DELETE", path: "/v1/todos/" + aliceTodo, as: alice, allow503: true},
		{method: "DELETE", path: "/v1/me", as: alice, allow503: true},
	} {
		start := time.Now()
		resp := s.do(t, r)
		took := time.Since(start)
		if resp.Status != 503 {
			t.Fatalf("%s %s behind a lock: %d %s", r.method, r.path, resp.Status, resp.Body)
		}
		if p := resp.problem(t); p.Code != "unavailable" || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: code %q, Retry-After %q", r.method, r.path, p.Code, resp.Header.Get("Retry-After"))
		}
		if took < timeout || took > timeout+5*time.Second {
			t.Errorf("%s %s answered after %v with a %v timeout", r.method, r.path, took, timeout)
		}
		if l := s.logFor(t, resp.Header.Get("X-Request-Id")); l["status"] != float64(503) || l["error_code"] != "unavailable" {
			t.Errorf("access log %v", l)
		}
	}
	// Reads do not wait for a row lock.
	if resp := s.do(t, apiRequest{method: "GET", path: "/v1/todos/" + aliceTodo, as: alice}); resp.Status != 200 {
		t.Errorf("GET behind a row lock: %d", resp.Status)
	}
	release()
	if after := s.snapshot(t); after != before {
		t.Errorf("a timed-out write changed the database:\nbefore %s\nafter  %s", before, after)
	}
	resp := s.do(t, apiRequest{method: "PATCH", path: "/v1/todos/" + aliceTodo, as: alice, body: `{"title":"on time"}`})
	if resp.Status != 200 || resp.object(t)["title"] != "on time" {
		t.Errorf("PATCH after the lock is released: %d %s", resp.Status, resp.Body)
	}
	// The connections the timeouts interrupted went back clean: no
	// identity or timeout survives into another caller's transaction.
	for range 4 {
		if resp := s.do(t, apiRequest{method: "GET", path: "/v1/todos", as: bob}); resp.Status != 200 {
			t.Errorf("GET after timeouts: %d", resp.Status)
		}
	}
}
