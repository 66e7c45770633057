package pgtest

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// proxied connects to db through p as the superuser.
func proxied(t *testing.T, db *DB, p *Proxy) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), db.URLAt(p.Addr(), db.Superuser()))
	if err != nil {
		t.Fatalf("connect through the proxy: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func countRows(t *testing.T, direct *pgx.Conn, id int) int {
	t.Helper()
	var n int
	if err := direct.QueryRow(context.Background(), "select count(*) from marks where id = $1", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestProxy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := NewEmptyDB(t)
	db.Exec(t, "create table marks (id int)")
	direct := db.Conn(t, db.Superuser())
	p := StartProxy(t, db.ServerAddr())

	t.Run("ForwardsAndCounts", func(t *testing.T) {
		conn := proxied(t, db, p)
		if _, err := conn.Exec(ctx, "insert into marks values (1)"); err != nil {
			t.Fatal(err)
		}
		if n := p.Conns(); n != 1 {
			t.Fatalf("Conns = %d, want 1", n)
		}
	})

	t.Run("ResetAllResetsIdleConnections", func(t *testing.T) {
		a, b := proxied(t, db, p), proxied(t, db, p)
		if n := p.ResetAll(); n < 2 { // closed ones may not be untracked yet
			t.Fatalf("ResetAll reset %d connections, want at least 2", n)
		}
		for _, conn := range []*pgx.Conn{a, b} {
			_, err := conn.Exec(ctx, "select 1")
			if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
				t.Fatalf("after ResetAll: %v, want connection reset", err)
			}
		}
		proxied(t, db, p) // new connections are fine
	})

	t.Run("RefuseRefusesNewConnectionsOnly", func(t *testing.T) {
		open := proxied(t, db, p)
		if err := p.Refuse(true); err != nil {
			t.Fatal(err)
		}
		_, err := pgx.Connect(ctx, db.URLAt(p.Addr(), db.Superuser()))
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("connect while refusing: %v, want connection refused", err)
		}
		if _, err := open.Exec(ctx, "select 1"); err != nil {
			t.Fatalf("an open connection while refusing: %v", err)
		}
		if err := p.Refuse(false); err != nil {
			t.Fatal(err)
		}
		proxied(t, db, p)
	})

	t.Run("CutRequestNeverReachesTheServer", func(t *testing.T) {
		conn := proxied(t, db, p)
		p.Cut(CutRequest)
		if _, err := conn.Exec(ctx, "insert into marks values (2)"); err == nil {
			t.Fatal("the insert succeeded through a cut")
		}
		if n := countRows(t, direct, 2); n != 0 {
			t.Fatalf("%d rows, want 0: the server saw the cut request", n)
		}
	})

	t.Run("CutReplyLosesTheAnswerOfAnExecutedCommit", func(t *testing.T) {
		conn := proxied(t, db, p)
		p.Cut(CutReply)
		if _, err := conn.Exec(ctx, "insert into marks values (3)"); err == nil {
			t.Fatal("the insert's answer came through a cut")
		}
		if n := countRows(t, direct, 3); n != 1 {
			t.Fatalf("%d rows, want 1: the server had committed before it answered", n)
		}
	})

	t.Run("BlackholeHoldsThenDelivers", func(t *testing.T) {
		conn := proxied(t, db, p)
		p.Blackhole(true)
		done := make(chan error, 1)
		go func() { _, err := conn.Exec(ctx, "insert into marks values (4)"); done <- err }()
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if _, err := pgx.Connect(short, db.URLAt(p.Addr(), db.Superuser())); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("connect through a blackhole: %v, want a timeout", err)
		}
		select {
		case err := <-done:
			t.Fatalf("a statement came back (%v) through a blackhole", err)
		default:
		}
		if n := countRows(t, direct, 4); n != 0 {
			t.Fatalf("%d rows reached the server through a blackhole", n)
		}
		p.Blackhole(false)
		if err := <-done; err != nil {
			t.Fatalf("the held statement after the blackhole lifted: %v", err)
		}
		if n := countRows(t, direct, 4); n != 1 {
			t.Fatalf("%d rows, want 1 once the blackhole lifted", n)
		}
	})

	t.Run("Latency", func(t *testing.T) {
		conn := proxied(t, db, p)
		p.SetLatency(50 * time.Millisecond)
		defer p.SetLatency(0)
		start := time.Now()
		if _, err := conn.Exec(ctx, "select 1"); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < 100*time.Millisecond {
			t.Fatalf("a round trip took %s with 50ms each way", took)
		}
	})
}
