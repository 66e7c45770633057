package tests

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate/internal/pgtest"
	"github.com/rowgate/rowgate/internal/postgres"
	"github.com/rowgate/rowgate/internal/todo"
)

// TestPgbouncer runs rowgate through a real PgBouncer in transaction mode,
// the pooler behind Neon's pooled endpoint (see docs/pooling.md).
func TestPgbouncer(t *testing.T) {
	t.Parallel()
	pgtest.BouncerBinary(t) // skip locally, fail in CI, when pgbouncer is missing

	// MissedPoolerIsDetected forces pgx's default (named prepared
	// statements) in the URL, as if the guess from the host name had
	// missed: the pooler answers 42P05 and 26000, and rowgate switches to
	// unnamed statements once and resends the batches, which the pooler's
	// errors aborted before they ran. No caller sees an error.
	t.Run("MissedPoolerIsDetected", func(t *testing.T) {
		t.Parallel()
		t.Run("ManyUsersCollide42P05", func(t *testing.T) {
			t.Parallel()
			statementCacheCollides(t)
		})
		t.Run("MovedToOtherServer26000", func(t *testing.T) {
			t.Parallel()
			statementCacheMissesOnOtherServer(t)
		})
	})
	t.Run("PastedURLWorks", func(t *testing.T) {
		t.Parallel()
		pastedURLWorks(t)
	})
	t.Run("IdentityDoesNotLeakAcrossPooledTransactions", func(t *testing.T) {
		t.Parallel()
		identityDoesNotLeak(t)
	})
}

// openRowgate opens rowgate's pool on url, as serve does, closing it with t.
// Its log goes to logs, when given.
func openRowgate(t *testing.T, url string, maxConns int32, logs ...*apiLogBuffer) *postgres.DB {
	t.Helper()
	cfg := postgres.Config{URL: url, MaxConns: maxConns}
	if len(logs) > 0 {
		cfg.Logger = slog.New(slog.NewJSONHandler(logs[0], nil))
	}
	db, err := postgres.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(db.Close)
	if err := db.CheckRole(context.Background()); err != nil {
		t.Fatalf("check role through %s: %v", url, err)
	}
	return db
}

func wantExecMode(t *testing.T, db *postgres.DB, want pgx.QueryExecMode) {
	t.Helper()
	if mode, why := db.QueryExecMode(); mode != want.String() {
		t.Fatalf("query exec mode %q (%s), want %q", mode, why, want)
	}
}

// statementCacheCollides sends the first request of 16 users at once, each
// on its own client connection, through 4 server connections. Every client
// prepares rowgate's statements under the same names (pgx names them by a
// hash of the SQL), and a server connection keeps a name once prepared, so
// at most 4 clients can prepare them: by pigeonhole at least 12 meet 42P05.
// (A client whose prepare succeeded may still meet 26000, if its execute
// step lands on another server.) Every one of them must be retried after
// the switch, and every user must end with exactly one todo.
//
// To make sure 16 distinct client connections are in play, the bouncer's 4
// servers are pinned by open transactions until rowgate's pool has handed
// out 16 connections, all waiting for a server.
func statementCacheCollides(t *testing.T) {
	const servers, users = 4, 16
	db := pgtest.NewDB(t)
	b := pgtest.StartBouncer(t, db, pgtest.BouncerOptions{PoolSize: servers})
	logs := &apiLogBuffer{}
	app := openRowgate(t, b.URL(pgtest.App, "default_query_exec_mode=cache_statement"), users, logs)
	wantExecMode(t, app, pgx.QueryExecModeCacheStatement)

	release := b.HoldServers(t, servers)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := make([]error, users)
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			caller := todo.Caller{ID: fmt.Sprintf("collide-user-%02d", i)}
			_, errs[i] = app.Todos().Create(ctx, caller, todo.NewTodo{Title: "first todo"})
		})
	}
	pgbWaitFor(t, fmt.Sprintf("%d pooled connections waiting for a server", users),
		func() bool { return app.Stat().AcquiredConns() == users })
	release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("user %d: %v", i, err)
		}
	}
	st := app.FaultStats()
	t.Logf("fault stats: %+v", st)
	if st.PoolerSwitches != 1 || st.RetriesAborted < users-servers {
		t.Errorf("%d switches and %d retried batches; want 1 switch and at least %d retries (the 42P05 pigeonhole)",
			st.PoolerSwitches, st.RetriesAborted, users-servers)
	}
	wantExecMode(t, app, pgx.QueryExecModeCacheDescribe)
	if n := strings.Count(logs.String(), "transaction pooler detected"); n != 1 {
		t.Errorf("the switch was logged %d times, want once:\n%s", n, logs)
	}
	var rows, owners int
	err := db.Conn(t, db.Superuser()).QueryRow(ctx,
		`select count(*), count(distinct user_id) from todos where user_id like 'collide-user-%'`).Scan(&rows, &owners)
	if err != nil || rows != users || owners != users {
		t.Fatalf("%d todos of %d users after the retries (%v); want exactly one each", rows, owners, err)
	}
}

// statementCacheMissesOnOtherServer has one client prepare rowgate's
// statements on one server connection, then pins that server so the
// client's next transaction runs on the other: the statement it cached is
// not there (26000). The request still succeeds, after the switch.
func statementCacheMissesOnOtherServer(t *testing.T) {
	db := pgtest.NewDB(t)
	b := pgtest.StartBouncer(t, db, pgtest.BouncerOptions{PoolSize: 2})
	app := openRowgate(t, b.URL(pgtest.App, "default_query_exec_mode=cache_statement"), 1)
	wantExecMode(t, app, pgx.QueryExecModeCacheStatement)
	ctx := context.Background()
	alice := todo.Caller{ID: "moved-alice"}

	releaseFirst := b.HoldServers(t, 1) // server 1 is busy...
	if _, err := app.Todos().Create(ctx, alice, todo.NewTodo{Title: "prepared on server 2"}); err != nil {
		t.Fatalf("first request, alone on server 2: %v", err) // ...so this prepares on server 2
	}
	releaseSecond := b.HoldServers(t, 1) // server 2 is busy...
	releaseFirst()                       // ...and server 1 free
	page, err := app.Todos().List(ctx, alice, todo.ListQuery{Limit: 10})
	releaseSecond()
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("request moved to server 1: %d items, %v; want the todo, after a switch", len(page.Items), err)
	}
	if st := app.FaultStats(); st.PoolerSwitches != 1 || st.RetriesAborted != 1 {
		t.Fatalf("fault stats %+v: want one switch and one retried batch (the 26000)", st)
	}
}

// identityDoesNotLeak shares one server connection (pool size 1) between
// rowgate and a client that sets no identity, alternating them: the
// anonymous client must never see app.user_id or a todo, whatever the
// request before it did, and rowgate's callers only ever see their own.
func identityDoesNotLeak(t *testing.T) {
	db := pgtest.NewDB(t)
	b := pgtest.StartBouncer(t, db, pgtest.BouncerOptions{PoolSize: 1})
	app := openRowgate(t, b.URL(pgtest.App), 4)
	wantExecMode(t, app, pgx.QueryExecModeCacheDescribe)
	ctx := context.Background()
	// The other clients are plain: unnamed statements, no identity of their own.
	anon := &anonClient{conn: b.Conn(t, "default_query_exec_mode=exec")}
	failing := b.Conn(t, "default_query_exec_mode=exec")

	users := []todo.Caller{{ID: "pooled-alice"}, {ID: "pooled-bob"}}
	created := map[string]int{}
	var backend int32
	for i := range 30 {
		who := users[i%2]
		switch i % 3 {
		case 0, 1: // a rowgate request that commits
			if _, err := app.Todos().Create(ctx, who, todo.NewTodo{Title: fmt.Sprintf("todo %d", i)}); err != nil {
				t.Fatalf("%s creates: %v", who.ID, err)
			}
			created[who.ID]++
			checkOwnList(t, app, who, created[who.ID])
		case 2: // a request shaped like rowgate's that fails after setting its identity
			fb := &pgx.Batch{}
			fb.Queue("select set_config('app.user_id', $1, true)", who.ID)
			fb.Queue("select 1/0")
			if err := failing.SendBatch(ctx, fb).Close(); pgbSQLState(err) != pgerrcode.DivisionByZero {
				t.Fatalf("the failing request: %v, want 22012", err)
			}
		}
		pid := anon.check(t)
		if backend == 0 {
			backend = pid
		} else if pid != backend {
			t.Fatalf("backend %d, then %d: pool size 1 should share one server connection", backend, pid)
		}
	}

	// The same, all at once: every client queues for the one server.
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			who := users[i%2]
			if i%4 == 3 {
				anon.check(t)
				return
			}
			checkOwnList(t, app, who, created[who.ID])
		})
	}
	wg.Wait()
	if n := b.ServerConns(t); n != 1 {
		t.Errorf("%d server connections to the database, want 1", n)
	}
}

// checkOwnList lists who's todos through rowgate: exactly want of them,
// all theirs.
func checkOwnList(t *testing.T, app *postgres.DB, who todo.Caller, want int) {
	t.Helper()
	page, err := app.Todos().List(context.Background(), who, todo.ListQuery{Limit: todo.MaxLimit})
	if err != nil {
		t.Errorf("%s lists: %v", who.ID, err)
		return
	}
	for _, td := range page.Items {
		if td.UserID != who.ID {
			t.Errorf("%s saw %s's todo %s", who.ID, td.UserID, td.ID)
		}
	}
	if len(page.Items) != want {
		t.Errorf("%s saw %d todos, want %d", who.ID, len(page.Items), want)
	}
}

// anonClient is a client that never sets an identity. Its mutex
// serialises the connection, which is not safe for concurrent use.
type anonClient struct {
	mu   sync.Mutex
	conn *pgx.Conn
}

// check runs a statement with no identity: it must see no app.user_id and
// no todo. It returns the server's backend pid.
func (a *anonClient) check(t *testing.T) int32 {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	var setting *string
	var visible int
	var pid int32
	err := a.conn.QueryRow(context.Background(),
		`select current_setting('app.user_id', true), (select count(*) from todos), pg_backend_pid()`).Scan(&setting, &visible, &pid)
	if err != nil {
		t.Errorf("anonymous statement: %v", err)
		return 0
	}
	if (setting != nil && *setting != "") || visible != 0 {
		t.Errorf("a statement with no identity saw app.user_id=%v and %d todos; want it unset or empty, and 0", describeSetting(setting), visible)
	}
	return pid
}

func describeSetting(s *string) string {
	if s == nil {
		return "NULL"
	}
	return fmt.Sprintf("%q", *s)
}
