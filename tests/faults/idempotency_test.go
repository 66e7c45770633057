package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/app"
	"github.com/rowgate/rowgate/internal/devdb"
	"github.com/rowgate/rowgate/internal/pgtest"
)

// TestIdempotentRetriesAcrossCrash: clients make 300 logical creates, each
// with an Idempotency-Key of its own, and retry every create that got no
// 2xx with the same key, while PostgreSQL is killed (-9) and started again.
// Afterwards there is exactly one row per logical create: none lost, none
// doubled, and every id a client was given is that row's. The request
// timeout is short, so that requests caught by the crash run out and the
// clients, not only the server, retry.
func TestIdempotentRetriesAcrossCrash(t *testing.T) {
	t.Parallel()
	db := pgtest.NewClusterDB(t, devdb.Options{Durable: true})
	s := startStack(t, db, app.Config{RequestTimeout: 400 * time.Millisecond})
	s.waitReady(t, 30*time.Second)
	const workers, perWorker = 10, 30
	acked := make([]map[string]string, workers) // key -> todo id, per worker
	retried := make([]int, workers)
	var wg sync.WaitGroup
	var done atomic.Int64
	start := make(chan struct{})
	for w := range workers {
		acked[w] = map[string]string{}
		token := s.token(t, fmt.Sprintf("retrier-%02d", w))
		wg.Go(func() {
			<-start
			for i := range perWorker {
				key := fmt.Sprintf("create-%02d-%03d", w, i)
				id, tries := createUntilAcked(t, s, token, key)
				acked[w][key], retried[w] = id, retried[w]+tries-1
				done.Add(1)
			}
		})
	}
	close(start)
	for done.Load() < workers*perWorker/3 { // crash a third of the way through
		time.Sleep(time.Millisecond)
	}
	if err := db.Cluster().Crash(); err != nil {
		t.Fatal(err)
	}
	if err := db.Cluster().StartServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	total := 0
	for w := range workers {
		total += retried[w]
	}
	rows := map[string]string{} // key -> todo id, from the database
	conn := db.Conn(t, db.Superuser())
	r, err := conn.Query(context.Background(), `
select k.key, t.id::text from idempotency_keys k join todos t on t.id = (k.response->>'id')::uuid`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var key, id string
		r.Scan(&key, &id)
		rows[key] = id
	}
	var todos int
	conn.QueryRow(context.Background(), `select count(*) from todos`).Scan(&todos)
	t.Logf("%d logical creates, %d retries, %d todos in the database", workers*perWorker, total, todos)
	if todos != workers*perWorker {
		t.Errorf("%d todos for %d logical creates", todos, workers*perWorker)
	}
	for w := range workers {
		for key, id := range acked[w] {
			if rows[key] != id {
				t.Errorf("create %s was acknowledged as %s; the database has %q", key, id, rows[key])
			}
		}
	}
	replays := s.metric(t, `rowgate_db_retries_total{reason="replay_safe"}`)
	t.Logf("the server replayed %v keyed batches whose outcome the crash made unknown", replays)
	if total == 0 {
		t.Error("no client retried a create: the crash interrupted nothing, so the test proved nothing")
	}
}

// createUntilAcked posts one logical create until it gets a 201, with the
// same key every time, and returns its id and the number of tries.
func createUntilAcked(t *testing.T, s *stack, token, key string) (string, int) {
	deadline := time.Now().Add(60 * time.Second)
	for tries := 1; ; tries++ {
		status, body := s.do("POST", "/v1/todos", token, `{"title":"`+key+`"}`, map[string]string{"Idempotency-Key": `"` + key + `"`})
		var created struct{ ID string }
		if status == 201 && json.Unmarshal(body, &created) == nil {
			return created.ID, tries
		}
		if status != 0 && status != 503 {
			t.Errorf("create %s: %d %s", key, status, body)
		}
		if time.Now().After(deadline) {
			t.Errorf("create %s never acknowledged: last %d %s", key, status, body)
			return "", tries
		}
		time.Sleep(20 * time.Millisecond)
	}
}
