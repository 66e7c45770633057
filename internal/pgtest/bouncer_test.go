package pgtest

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestBouncerOnRandomTCPPort starts PgBouncer on 127.0.0.1 at a random
// port, reaches the database through a plain URL, and drives it: the admin
// console, a kill and a start on the same port, a restart.
func TestBouncerOnRandomTCPPort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := NewDB(t)
	b := StartBouncer(t, db, BouncerOptions{TCP: true, PoolSize: 2})
	if b.Port == BouncerPort {
		t.Fatalf("a TCP bouncer on the conventional port %d", b.Port)
	}
	url := b.URL(App)
	if want := "postgres://" + App + "@" + b.Addr() + "/" + db.Name; url != want {
		t.Fatalf("URL = %s, want %s", url, want)
	}
	conn := b.Conn(t)
	wantQuery(t, conn)
	if n := b.ServerConns(t); n < 1 || n > 2 {
		t.Fatalf("%d server connections, want 1 or 2", n)
	}

	pools := b.Admin(t, "SHOW POOLS")
	if !hasRowFor(pools, db.Name) {
		t.Fatalf("SHOW POOLS has no pool for %s: %v", db.Name, pools)
	}
	b.Admin(t, "KILL "+db.Name)
	if _, err := conn.Exec(ctx, "select 1"); err == nil {
		t.Fatal("a client connection survived KILL")
	}
	b.Admin(t, "RESUME "+db.Name)
	wantQuery(t, b.Conn(t))

	b.Kill()
	_, err := pgx.Connect(ctx, url)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("connect to a killed bouncer: %v, want connection refused", err)
	}
	b.Start(t)
	wantQuery(t, b.Conn(t))
	b.Restart(t)
	wantQuery(t, b.Conn(t))
}

// TestBouncerOnUnixSocket keeps the mode the pooling tests use: port 6432
// naming a socket in the bouncer's folder.
func TestBouncerOnUnixSocket(t *testing.T) {
	t.Parallel()
	db := NewDB(t)
	b := StartBouncer(t, db, BouncerOptions{PoolSize: 1})
	if b.TCP || b.Port != BouncerPort || !strings.HasPrefix(b.Addr(), b.Dir) {
		t.Fatalf("unix bouncer: TCP %v, port %d, addr %s", b.TCP, b.Port, b.Addr())
	}
	release := b.HoldServers(t, 1)
	if n := b.ServerConns(t); n != 1 {
		t.Fatalf("%d server connections, want 1", n)
	}
	release()
	b.Restart(t)
	wantQuery(t, b.Conn(t, "default_query_exec_mode=exec"))
}

func wantQuery(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	var one int
	if err := conn.QueryRow(context.Background(), "select 1", pgx.QueryExecModeExec).Scan(&one); err != nil || one != 1 {
		t.Fatalf("select 1: %d, %v", one, err)
	}
}

func hasRowFor(rows [][]string, name string) bool {
	for _, r := range rows {
		if len(r) > 0 && r[0] == name {
			return true
		}
	}
	return false
}
