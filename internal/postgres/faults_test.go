package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/pgtest"
	"github.com/rowgate/rowgate/internal/postgres"
	"github.com/rowgate/rowgate/internal/todo"
)

// terminateApp ends every backend rowgate_app has in the test database, as
// a Neon suspend, a pooler's server_lifetime or a failover does, and waits
// until each is gone.
func terminateApp(t *testing.T, tdb *pgtest.DB) int {
	t.Helper()
	var n int
	err := tdb.Conn(t, tdb.Superuser()).QueryRow(context.Background(), `
select count(*) filter (where pg_terminate_backend(pid, 5000))
from pg_stat_activity where datname = current_database() and usename = 'rowgate_app'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// warm opens n connections by running n slow requests at once.
func warm(t *testing.T, db *postgres.DB, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := db.Users().Me(context.Background(), todo.Caller{ID: fmt.Sprintf("warm%02d", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := db.Stat().TotalConns(); got < 1 {
		t.Fatalf("pool has %d connections after warming", got)
	}
}

// TestEveryBackendTerminated: after every backend of the pool is killed,
// the next requests, reads and writes alike, all succeed: dead
// connections are found before anything is sent on them, so even a write
// is safe to send on a fresh one.
func TestEveryBackendTerminated(t *testing.T) {
	t.Parallel()
	db, tdb := open(t, postgres.Config{MaxConns: 4})
	ctx := context.Background()
	td := mustCreate(t, db, alice, "before")
	warm(t, db, 4)
	if n := terminateApp(t, tdb); n == 0 {
		t.Fatal("no backend terminated")
	}
	for i := range 20 {
		var err error
		switch i % 4 {
		case 0:
			_, err = db.Todos().List(ctx, alice, todo.ListQuery{Limit: 5})
		case 1:
			_, err = db.Todos().Create(ctx, alice, todo.NewTodo{Title: fmt.Sprint("after ", i)})
		case 2:
			title := fmt.Sprint("renamed ", i)
			_, err = db.Todos().Update(ctx, alice, td.ID, todo.TodoPatch{Title: &title}, nil)
		case 3:
			_, err = db.Todos().Get(ctx, alice, td.ID)
		}
		if err != nil {
			t.Fatalf("request %d after the backends were terminated: %v", i, err)
		}
	}
	st := db.FaultStats()
	if st.DeadConnsDiscarded == 0 || st.OutcomeUnknown != 0 {
		t.Fatalf("fault stats %+v: want dead connections discarded and no unknown outcome", st)
	}
	t.Logf("fault stats: %+v", st)
}

// TestTerminatedMidStatement: a backend killed while it runs a batch
// reports 57P01 before the commit, so the batch took no effect and is
// sent again, a write as much as a read, and the write happens once.
func TestTerminatedMidStatement(t *testing.T) {
	t.Parallel()
	db, tdb := open(t, postgres.Config{MaxConns: 2})
	ctx := context.Background()
	mustCreate(t, db, alice, "warm-up")
	admin := tdb.Conn(t, tdb.Superuser())
	killed := make(chan error, 1)
	go func() {
		// Kill the first backend seen sleeping in the marked statement.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			var n int
			err := admin.QueryRow(ctx, `select count(*) filter (where pg_terminate_backend(pid))
				from pg_stat_activity where datname = current_database() and query like '%slow-marker%' and pid <> pg_backend_pid()`).Scan(&n)
			if err != nil || n > 0 {
				killed <- err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		killed <- errors.New("never saw the slow statement")
	}()
	title := "written once"
	_, err := postgres.RunForTest(ctx, db, alice,
		`insert into todos (title) select 'written once' from pg_sleep(0.3) /* slow-marker */`)
	if kerr := <-killed; kerr != nil {
		t.Fatal(kerr)
	}
	if err != nil {
		t.Fatalf("write whose backend was killed mid-statement: %v", err)
	}
	var n int
	tdb.Conn(t, tdb.Superuser()).QueryRow(ctx, `select count(*) from todos where title = $1`, title).Scan(&n)
	if n != 1 || db.FaultStats().RetriesAborted == 0 {
		t.Fatalf("%d rows written, stats %+v; want 1 row after a retry of the aborted batch", n, db.FaultStats())
	}
}

// TestPoolExhaustedIsOverloaded: when no connection frees up within the
// acquire timeout, the request ends with ErrOverloaded (a 503) instead of
// queueing until its deadline.
func TestPoolExhaustedIsOverloaded(t *testing.T) {
	t.Parallel()
	db, _ := open(t, postgres.Config{MaxConns: 1, AcquireTimeout: 100 * time.Millisecond})
	ctx := context.Background()
	held := make(chan error, 1)
	go func() {
		_, err := postgres.RunForTest(ctx, db, bob, `select pg_sleep(2)`)
		held <- err
	}()
	for db.Stat().AcquiredConns() == 0 {
		time.Sleep(time.Millisecond)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := db.Todos().List(rctx, alice, todo.ListQuery{Limit: 1})
	if !errors.Is(err, todo.ErrOverloaded) || !errors.Is(err, todo.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrOverloaded (which is ErrUnavailable)", err)
	}
	if rctx.Err() != nil {
		t.Fatal("the request waited for its own deadline instead of the acquire timeout")
	}
	if err := <-held; err != nil {
		t.Fatal(err)
	}
}

// TestDoorShutUntilChecked: a DB whose role check has not passed sends
// nothing; a request waits for the check within its deadline, then gets
// ErrUnavailable. Once checked, requests go through.
func TestDoorShutUntilChecked(t *testing.T) {
	t.Parallel()
	tdb := pgtest.NewDB(t)
	db, err := postgres.Open(context.Background(), postgres.Config{URL: tdb.URL(pgtest.App)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := db.Users().Me(ctx, alice); !errors.Is(err, todo.ErrUnavailable) {
		t.Fatalf("before CheckRole: err = %v, want ErrUnavailable", err)
	}
	if db.Stat().TotalConns() != 0 {
		t.Fatal("a connection was opened before the role check")
	}
	if err := db.Ready(context.Background()); err == nil {
		t.Fatal("Ready before the role check")
	}
	if err := db.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Users().Me(context.Background(), alice); err != nil {
		t.Fatalf("after the check: %v", err)
	}
}

// TestWaitReadyRefusesABypassingRole: the safety check's refusal is final.
func TestWaitReadyRefusesABypassingRole(t *testing.T) {
	t.Parallel()
	tdb := pgtest.NewDB(t)
	db, err := postgres.Open(context.Background(), postgres.Config{URL: tdb.URL(pgtest.Owner)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.WaitReady(context.Background())
	var refused *postgres.RefusalError
	if !errors.As(err, &refused) {
		t.Fatalf("WaitReady as the table owner: %v, want a RefusalError", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := db.Users().Me(ctx, alice); !errors.Is(err, todo.ErrUnavailable) {
		t.Fatalf("after a refusal: %v, want the door to stay shut", err)
	}
}
