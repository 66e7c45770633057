package devdb

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// startCluster boots a cluster for t and stops it when t ends.
func startCluster(t *testing.T, ctx context.Context, opts Options) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("boots PostgreSQL clusters")
	}
	start := time.Now()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster %s booted in %s", c.Dir, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { c.Stop() })
	return c
}

func tcpCluster(t *testing.T, ctx context.Context, opts Options) *Cluster {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	opts.TCPPort = port
	return startCluster(t, ctx, opts)
}

func mustSQL(t *testing.T, ctx context.Context, c *Cluster, query string) string {
	t.Helper()
	out, err := c.SQL(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wantSQL(t *testing.T, ctx context.Context, c *Cluster, query, want string) {
	t.Helper()
	if got := mustSQL(t, ctx, c, query); got != want {
		t.Fatalf("%s on %s: %q, want %q", query, c.Dir, got, want)
	}
}

// wantTCPPort connects over TCP with pgx and checks which server answered.
func wantTCPPort(t *testing.T, ctx context.Context, url string, port int) {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(ctx)
	var got int
	if err := conn.QueryRow(ctx, "select inet_server_port()").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != port {
		t.Fatalf("%s reached the server on port %d, want %d", url, got, port)
	}
}

func TestRestartKeepsDataPortAndSocket(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := tcpCluster(t, ctx, Options{})
	mustSQL(t, ctx, c, "create table kept (i int); insert into kept values (1)")
	mustSQL(t, ctx, c, "checkpoint") // synchronous_commit is off: make the row durable

	for _, mode := range []ShutdownMode{ShutdownFast, ShutdownImmediate} {
		d, err := c.Restart(ctx, mode)
		if err != nil {
			t.Fatalf("%s restart: %v", mode, err)
		}
		t.Logf("%s restart: down %s", mode, d.Duration().Round(time.Millisecond))
		if d.Duration() <= 0 {
			t.Errorf("%s restart: downtime %s", mode, d.Duration())
		}
		wantSQL(t, ctx, c, "select count(*) from kept", "1")
		wantTCPPort(t, ctx, c.TCPURL(Superuser, "postgres"), c.Port)
	}

	if err := c.StopServer(ctx, ShutdownFast); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SQL(ctx, "select 1"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("SQL while down: %v, want ErrNotRunning", err)
	}
	if conn, err := pgx.Connect(ctx, c.TCPURL(Superuser, "postgres")); err == nil {
		conn.Close(ctx)
		t.Fatal("connected while the server was down")
	}
	if _, err := c.Restart(ctx, ShutdownFast); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Restart while down: %v, want ErrNotRunning", err)
	}
	if err := c.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.StartServer(ctx); !errors.Is(err, ErrRunning) {
		t.Fatalf("second StartServer: %v, want ErrRunning", err)
	}
	wantSQL(t, ctx, c, "select count(*) from kept", "1")
	wantTCPPort(t, ctx, c.TCPURL(Superuser, "postgres"), c.Port)
}

// TestCrashKeepsAcknowledgedCommits commits rows one by one with
// synchronous_commit on (Durable), kills the postmaster right after the
// last acknowledgement, and finds every row after crash recovery.
func TestCrashKeepsAcknowledgedCommits(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startCluster(t, ctx, Options{Durable: true})
	mustSQL(t, ctx, c, "create table acked (i int primary key)")
	conn, err := pgx.Connect(ctx, c.URL(Superuser, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	const rows = 300
	for i := range rows {
		if _, err := conn.Exec(ctx, "insert into acked values ($1)", i); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := c.Crash(); err != nil {
		t.Fatal(err)
	}
	killed := time.Since(start)
	if pids := processesIn(mustEval(t, c.dataDir())); len(pids) > 0 {
		t.Fatalf("processes %v still run after Crash", pids)
	}
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("a connection survived the crash")
	}
	conn.Close(ctx)
	if err := c.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("crash took %s, back (crash recovery) after %s", killed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	wantSQL(t, ctx, c, "select count(*) from acked", strconv.Itoa(rows))
}

func mustEval(t *testing.T, path string) string {
	t.Helper()
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
