package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowgate/rowgate/internal/pgtest"
)

// bouncerPort is the port PgBouncer conventionally listens on. On a unix
// socket it only names the socket file (.s.PGSQL.6432), so parallel
// bouncers in their own folders never conflict, and rowgate's pooler
// detection sees the URL exactly as a user would paste it.
const bouncerPort = 6432

// bouncer is a real PgBouncer in transaction mode in front of one test
// database. It listens only on a unix socket in its own folder.
type bouncer struct {
	// Dir holds the config, the log, the pid file and the socket.
	Dir  string
	db   *pgtest.DB
	cmd  *exec.Cmd
	done chan error
}

// pgbouncerBinary finds pgbouncer on PATH or in the usual sbin folders. A
// developer without it gets a skip; CI (CI set) must run these tests.
func pgbouncerBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer"} {
			if fi, statErr := os.Stat(p); statErr == nil && !fi.IsDir() {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		msg := "pgbouncer is not installed (Debian/Ubuntu: apt-get install pgbouncer; macOS: brew install pgbouncer)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "; CI must run the pooler tests")
		}
		t.Skip(msg)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	t.Logf("%s: %s", bin, strings.SplitN(string(out), "\n", 2)[0])
	return bin
}

// startBouncer runs PgBouncer in transaction mode in front of db, with at
// most poolSize server connections for (db, rowgate_app), and stops it when
// t ends. As root it runs as the postgres account, since PgBouncer refuses
// to run as root; it dies with the test process either way.
func startBouncer(t *testing.T, bin string, db *pgtest.DB, poolSize int) *bouncer {
	t.Helper()
	dir := bouncerDir(t)
	b := &bouncer{Dir: dir, db: db, done: make(chan error, 1)}
	cred := bouncerCredential(t, dir)
	conf := filepath.Join(dir, "pgbouncer.ini")
	pgbWriteOwned(t, conf, bouncerConfig(t, dir, db, poolSize), cred)
	pgbWriteOwned(t, filepath.Join(dir, "userlist.txt"), fmt.Sprintf("%q \"\"\n", pgtest.App), cred)
	logFile, err := os.Create(b.logPath())
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	b.cmd = exec.Command(bin, conf)
	b.cmd.Dir = dir
	b.cmd.Stdout, b.cmd.Stderr = logFile, logFile
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	go func() { b.done <- b.cmd.Wait() }()
	t.Cleanup(b.stop)
	b.waitReady(t)
	return b
}

// bouncerDir is a new folder with a path short enough for a unix socket.
func bouncerDir(t *testing.T) string {
	t.Helper()
	parent := os.TempDir()
	if len(parent) > 60 {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "rowgate-pgb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// bouncerConfig points one [databases] entry at db on the test server, over
// the server's unix socket when it has one.
func bouncerConfig(t *testing.T, dir string, db *pgtest.DB, poolSize int) string {
	t.Helper()
	server, err := url.Parse(pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	host, port := server.Query().Get("host"), server.Query().Get("port")
	if host == "" {
		host = server.Hostname()
	}
	if port == "" {
		port = server.Port()
	}
	if port == "" {
		port = "5432"
	}
	target := fmt.Sprintf("host=%s port=%s dbname=%s", host, port, db.Name)
	if pgtest.External(t) {
		// A shared server checks passwords; the throwaway one trusts its socket.
		target += fmt.Sprintf(" user=%s password=%s", pgtest.App, pgtest.AppPassword)
	}
	return fmt.Sprintf(`[databases]
%s = %s

[pgbouncer]
listen_addr =
listen_port = %d
unix_socket_dir = %s
pidfile = %s
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = %d
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 200
log_connections = 0
log_disconnections = 0
`, db.Name, target, bouncerPort, dir, filepath.Join(dir, "pgbouncer.pid"), filepath.Join(dir, "userlist.txt"), poolSize)
}

// bouncerCredential returns nil when the process may run PgBouncer itself.
// As root it hands dir to the postgres (or nobody) account and returns that
// account's credential, as devdb does for the server.
func bouncerCredential(t *testing.T, dir string) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	var u *user.User
	var err error
	for _, name := range []string{"postgres", "nobody"} {
		if u, err = user.Lookup(name); err == nil {
			break
		}
	}
	if u == nil {
		t.Fatalf("running as root, and no unprivileged account (postgres or nobody) to run pgbouncer as: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
}

// pgbWriteOwned writes a private file for the account PgBouncer runs as.
func pgbWriteOwned(t *testing.T, path, content string, cred *syscall.Credential) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		if err := os.Chown(path, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
}

func (b *bouncer) logPath() string { return filepath.Join(b.Dir, "pgbouncer.log") }
func (b *bouncer) socketPath() string {
	return filepath.Join(b.Dir, fmt.Sprintf(".s.PGSQL.%d", bouncerPort))
}

// logTail returns the end of PgBouncer's log, for failure messages.
func (b *bouncer) logTail() string {
	out, _ := os.ReadFile(b.logPath())
	if len(out) > 3000 {
		out = out[len(out)-3000:]
	}
	return string(bytes.TrimSpace(out))
}

// waitReady waits for the socket to accept connections, then checks that a
// query reaches the database through it.
func (b *bouncer) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("unix", b.socketPath())
		if err == nil {
			conn.Close()
			break
		}
		select {
		case err := <-b.done:
			b.done <- err
			t.Fatalf("pgbouncer exited during start-up: %v\n%s", err, b.logTail())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer not listening on %s after 10s\n%s", b.socketPath(), b.logTail())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, b.URL(pgtest.App))
	if err == nil {
		err = conn.Exec(ctx, "select 1").Close()
		conn.Close(ctx)
	}
	if err != nil {
		t.Fatalf("query through pgbouncer: %v\n%s", err, b.logTail())
	}
}

// stop shuts PgBouncer down at once (SIGTERM), killing it if it lingers.
func (b *bouncer) stop() {
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
}

// URL is the URL a user would paste for role: the database through the
// bouncer's socket, port 6432, plus any extra query parameters.
func (b *bouncer) URL(role string, params ...string) string {
	q := append([]string{"host=" + b.Dir, "port=" + strconv.Itoa(bouncerPort)}, params...)
	return "postgres://" + role + "@/" + b.db.Name + "?" + strings.Join(q, "&")
}

// connectThrough connects to the database through b as rowgate_app,
// closing the connection with t.
func connectThrough(t *testing.T, b *bouncer, params ...string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), b.URL(pgtest.App, params...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// holdServers opens n client connections through b and begins a
// transaction on each, so each pins one of the bouncer's server
// connections. Releasing them commits. Their statements use the simple
// protocol, so they prepare nothing on the servers they hold.
func (b *bouncer) holdServers(t *testing.T, n int) (release func()) {
	t.Helper()
	ctx := context.Background()
	var txs []pgx.Tx
	for range n {
		conn := connectThrough(t, b, "default_query_exec_mode=simple_protocol")
		tx, err := conn.Begin(ctx)
		if err == nil {
			// begin alone pins a server; a statement proves it is held.
			_, err = tx.Exec(ctx, "select 1")
		}
		if err != nil {
			t.Fatalf("hold a server connection: %v\n%s", err, b.logTail())
		}
		txs = append(txs, tx)
	}
	return func() {
		for _, tx := range txs {
			if err := tx.Commit(ctx); err != nil {
				t.Errorf("release a server connection: %v", err)
			}
		}
	}
}

// bouncerServerConns counts the server connections PgBouncer has open to the
// test database, as the database sees them.
func bouncerServerConns(t *testing.T, db *pgtest.DB) int {
	t.Helper()
	var n int
	err := db.Conn(t, db.Superuser()).QueryRow(context.Background(),
		`select count(*) from pg_stat_activity where datname = $1 and usename = $2`, db.Name, pgtest.App).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pgbWaitFor polls cond every few milliseconds until it holds or 10s pass.
func pgbWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// pgbSQLState returns the SQLSTATE of err, or "" when it carries none.
func pgbSQLState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
