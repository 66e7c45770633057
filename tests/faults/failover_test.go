package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/app"
	"github.com/rowgate/rowgate/internal/devdb"
	"github.com/rowgate/rowgate/internal/pgtest"
)

// TestFailover kills the primary (-9) while 8 clients write, then promotes
// its synchronous standby. DATABASE_URL lists both servers with
// target_session_attrs=read-write, as on Patroni or RDS. Writes succeed
// again within 5 s of the promotion; no answer is a 500; every write that
// was acknowledged is on the new primary; and a read carrying a
// Consistency-Token from before the failover answers at once, from the
// new primary.
func TestFailover(t *testing.T) {
	t.Parallel()
	rs := newReplicaSetup(t, devdb.Options{Durable: true})
	ctx := context.Background()
	if err := rs.db.Cluster().SetSynchronousStandbys(ctx, "standby1"); err != nil {
		t.Fatal(err)
	}
	url := devdb.MultiHostURL(pgtest.App, rs.db.Name, rs.db.Cluster(), rs.standby)
	s := startStack(t, rs.db, app.Config{DatabaseURL: url, ReplicaURLs: []string{rs.url}, RequestTimeout: 3 * time.Second})
	s.waitReady(t, 30*time.Second)
	s.waitInRotation(t, rs)

	early := s.token(t, "early-writer")
	_, header, _ := s.doFull("POST", "/v1/todos", early, `{"title":"before the failover"}`, nil)
	oldToken := header.Get("Consistency-Token")
	if oldToken == "" {
		t.Fatal("a write answered no Consistency-Token")
	}

	var (
		mu       sync.Mutex
		acked    = map[string]string{} // idempotency key -> todo id
		firstOK  time.Time
		promoted time.Time
		failures = map[int]int{}
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		tok := s.token(t, fmt.Sprintf("failover-%d", w))
		wg.Go(func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("w%d-%d", w, i)
				for {
					select {
					case <-stop:
						return
					default:
					}
					status, body := s.do("POST", "/v1/todos", tok, `{"title":"`+key+`"}`, map[string]string{"Idempotency-Key": key})
					var c struct{ ID string }
					if status == 201 && json.Unmarshal(body, &c) == nil {
						mu.Lock()
						acked[key] = c.ID
						if !promoted.IsZero() && firstOK.IsZero() && time.Now().After(promoted) {
							firstOK = time.Now()
						}
						mu.Unlock()
						break
					}
					mu.Lock()
					failures[status]++
					mu.Unlock()
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	time.Sleep(time.Second)
	killed := time.Now()
	if err := rs.db.Cluster().Crash(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := rs.standby.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	promoted = time.Now()
	mu.Unlock()
	time.Sleep(5 * time.Second)
	close(stop)
	wg.Wait()

	t.Logf("primary killed; standby promoted %v later; first write acknowledged %v after the promotion; %d writes acknowledged; failed answers by status %v",
		promoted.Sub(killed).Round(time.Millisecond), firstOK.Sub(promoted).Round(time.Millisecond), len(acked), failures)
	if firstOK.IsZero() || firstOK.Sub(promoted) > 5*time.Second {
		t.Errorf("writes succeeded again %v after the promotion, want within 5s", firstOK.Sub(promoted))
	}
	for status, n := range failures {
		if status != 503 {
			t.Errorf("%d answers of %d during the failover", n, status)
		}
	}
	newPrimary := pgtest.ConnTo(t, rs.standby.URL(devdb.Superuser, rs.db.Name))
	lost := 0
	for key, id := range acked {
		var n int
		if err := newPrimary.QueryRow(ctx, `select count(*) from todos where id = $1 and title = $2`, id, key).Scan(&n); err != nil || n != 1 {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes are not on the new primary", lost, len(acked))
	}
	start := time.Now()
	status, body := s.do("GET", "/v1/todos", early, "", map[string]string{"Consistency-Token": oldToken})
	if status != 200 || time.Since(start) > time.Second {
		t.Errorf("a read with a floor from before the failover: %d after %v: %s", status, time.Since(start), body)
	}
}

// TestReadOnlyPrimaryIsLeft turns the primary read-only under rowgate (as
// a switchover does before the old primary is demoted), then promotes the
// standby: the write that met 25006 is resent on a fresh connection and
// lands on the new primary, and rowgate keeps no connection to the
// read-only server.
func TestReadOnlyPrimaryIsLeft(t *testing.T) {
	t.Parallel()
	rs := newReplicaSetup(t, devdb.Options{})
	ctx := context.Background()
	url := devdb.MultiHostURL(pgtest.App, rs.db.Name, rs.db.Cluster(), rs.standby)
	s := startStack(t, rs.db, app.Config{DatabaseURL: url, RequestTimeout: 10 * time.Second, DBMaxConns: 4})
	s.waitReady(t, 30*time.Second)
	tok := s.token(t, "switchover")
	warm := mixedLoad(t, s, 4) // every pooled connection is on the old primary
	time.Sleep(300 * time.Millisecond)
	warm.finish()
	if _, err := rs.db.Cluster().SQL(ctx, `alter system set default_transaction_read_only = on`); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.db.Cluster().SQL(ctx, `select pg_reload_conf()`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	go func() {
		time.Sleep(time.Second)
		rs.standby.Promote(ctx)
	}()
	start := time.Now()
	status, body := s.do("POST", "/v1/todos", tok, `{"title":"after the switchover"}`, nil)
	t.Logf("the write answered %d after %v", status, time.Since(start).Round(time.Millisecond))
	if status != 201 {
		t.Fatalf("the write that met a read-only primary: %d %s", status, body)
	}
	if n := s.metric(t, `rowgate_db_retries_total{reason="aborted"}`) + s.metric(t, `rowgate_db_retries_total{reason="not_sent"}`); n < 1 {
		t.Errorf("no retry was counted: %v", n)
	}
	var left int
	old := pgtest.ConnTo(t, rs.db.Cluster().URL(devdb.Superuser, rs.db.Name))
	if err := old.QueryRow(ctx, `select count(*) from pg_stat_activity where application_name = 'rowgate'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("rowgate still holds %d connections to the read-only server (%v)", left, err)
	}
	var n int
	newPrimary := pgtest.ConnTo(t, rs.standby.URL(devdb.Superuser, rs.db.Name))
	newPrimary.QueryRow(ctx, `select count(*) from todos where title = 'after the switchover'`).Scan(&n)
	if n != 1 {
		t.Errorf("the write is on the new primary %d times", n)
	}
}
