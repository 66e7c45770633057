package faults

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/app"
	"github.com/rowgate/rowgate/internal/pgtest"
)

// TestPoolExhausted gives rowgate one connection and holds it with a
// write that waits on a row lock: every other request answers 503
// overloaded with Retry-After after the acquire timeout, not at its own
// deadline, and once the lock goes everything answers again, the held
// write included.
func TestPoolExhausted(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	s := startStack(t, db, app.Config{DBMaxConns: 1, DBAcquireTimeout: 200 * time.Millisecond, RequestTimeout: 10 * time.Second})
	s.waitReady(t, 30*time.Second)
	token := s.token(t, "hog")
	status, body := s.do("POST", "/v1/todos", token, `{"title":"contended"}`, nil)
	var td struct{ ID string }
	if status != 201 || json.Unmarshal(body, &td) != nil {
		t.Fatalf("create: %d %s", status, body)
	}
	ctx := context.Background()
	tx, err := db.Conn(t, db.Superuser()).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `select 1 from todos where id = $1 for update`, td.ID); err != nil {
		t.Fatal(err)
	}
	var held sync.WaitGroup
	var heldStatus int
	held.Go(func() { heldStatus, _ = s.do("PATCH", "/v1/todos/"+td.ID, token, `{"title":"waited"}`, nil) })
	for s.metric(t, "rowgate_db_pool_acquired_conns") < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	other := s.token(t, "bystander")
	for range 5 {
		start := time.Now()
		status, header, body := s.doFull("GET", "/v1/todos", other, "", nil)
		took := time.Since(start)
		if status != 503 || problemCode(body) != "overloaded" || header.Get("Retry-After") == "" || took > 3*time.Second {
			t.Errorf("while the pool is exhausted: %d %s after %v (Retry-After %q)", status, body, took, header.Get("Retry-After"))
		}
	}
	tx.Rollback(ctx)
	held.Wait()
	if heldStatus != 200 {
		t.Errorf("the held write after the lock went: %d", heldStatus)
	}
	if status, _ := s.get("/v1/todos", other); status != 200 {
		t.Errorf("after the pool freed up: %d", status)
	}
	if n := s.metric(t, `rowgate_db_unavailable_total{kind="overloaded"}`); n < 5 {
		t.Errorf("overloaded answers on /metrics: %v, want 5", n)
	}
}
