package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowgate/rowgate/internal/devdb"
)

// TestClusterDB boots a cluster of the test's own with a migrated
// database, replicates it, crashes it and finds the database again.
func TestClusterDB(t *testing.T) {
	t.Parallel()
	if NewDB(t).Cluster() != nil {
		t.Fatal("a database on the shared server exposes its cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := NewClusterDB(t, devdb.Options{Durable: true})
	c := db.Cluster()
	if c == nil {
		t.Fatal("NewClusterDB gave no cluster")
	}
	db.Exec(t, "insert into users (id, email) values ('crash-user', 'crash@example.com')")
	standby := StartStandby(t, c, devdb.StandbyOptions{ApplicationName: "pgtest_standby"})

	if err := c.Crash(); err != nil {
		t.Fatal(err)
	}
	if err := c.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Conn(t, db.Superuser()).QueryRow(ctx, "select count(*) from users").Scan(&n); err != nil || n != 1 {
		t.Fatalf("users after the crash: %d, %v; want 1", n, err)
	}
	// The standby has the migrated database too; without an identity the
	// runtime role sees no rows there either.
	conn := connect(t, standby.URL(App, db.Name))
	if err := conn.QueryRow(ctx, "select count(*) from users").Scan(&n); err != nil || n != 0 {
		t.Fatalf("users as %s on the standby: %d, %v; want 0", App, n, err)
	}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestTerminateBackends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := NewDB(t)
	pool := db.Pool(t, App)
	conns := make([]*pgxpool.Conn, 3)
	for i := range conns {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	for _, c := range conns {
		c.Release()
	}
	if n := db.TerminateBackends(t, App); n != 3 {
		t.Fatalf("terminated %d sessions, want 3", n)
	}
	// What the client sees depends on timing: 57P01 if it reads the
	// server's last message first, a broken pipe if it writes first.
	if _, err := pool.Exec(ctx, "select 1"); err == nil {
		t.Fatal("a pooled connection survived TerminateBackends")
	} else {
		t.Logf("as expected: %v", err)
	}
}
