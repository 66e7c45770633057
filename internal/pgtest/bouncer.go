package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowgate/rowgate/internal/devdb"
)

// BouncerPort is the port PgBouncer conventionally listens on, which a
// bouncer on a unix socket uses: there it only names the socket file
// (.s.PGSQL.6432), so parallel bouncers in their own folders never
// conflict, and rowgate's pooler detection sees the URL as a user would
// paste it.
const BouncerPort = 6432

// BouncerAdmin is the login of PgBouncer's admin console (database
// "pgbouncer"), which Bouncer.Admin uses.
const BouncerAdmin = "pgbouncer"

// BouncerOptions tunes a PgBouncer started by StartBouncer.
type BouncerOptions struct {
	// PoolSize is default_pool_size: at most this many server connections
	// for (db, rowgate_app); default 4.
	PoolSize int
	// PoolMode is pool_mode; default "transaction", as Neon's pooled
	// endpoints.
	PoolMode string
	// TCP listens on 127.0.0.1 at a random free port instead of a unix
	// socket: a pooler on a port rowgate cannot guess from.
	TCP bool
	// Settings are extra lines of the [pgbouncer] section, such as
	// server_lifetime; they override the ones StartBouncer writes.
	Settings map[string]string
}

// Bouncer is a real PgBouncer in front of one test database. Its config,
// log, pid file and unix socket live in Dir.
type Bouncer struct {
	// Dir holds the config, the log, the pid file and the socket.
	Dir string
	// Port is BouncerPort on a unix socket, or the TCP port.
	Port int
	// TCP reports whether it listens on 127.0.0.1:Port rather than on a
	// unix socket.
	TCP bool

	db   *DB
	bin  string
	cred *syscall.Credential
	mu   sync.Mutex
	proc *bouncerProc // nil while stopped
}

type bouncerProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

var bouncerVersion sync.Once

// BouncerBinary finds pgbouncer on PATH or in the usual sbin folders. A
// developer without it gets a skip; CI (CI set) fails instead, since it
// must run the pooler tests.
func BouncerBinary(t testing.TB) string {
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
	bouncerVersion.Do(func() {
		out, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --version: %v\n%s", bin, err, out)
		}
		t.Logf("%s: %s", bin, strings.SplitN(string(out), "\n", 2)[0])
	})
	return bin
}

// StartBouncer runs PgBouncer in front of db and stops it when t ends. As
// root it runs as the postgres account, since PgBouncer refuses to run as
// root; it dies with the test process either way. It returns once a query
// reaches the database through it. Without pgbouncer installed, t is
// skipped, or fails in CI.
func StartBouncer(t testing.TB, db *DB, opts BouncerOptions) *Bouncer {
	t.Helper()
	b := &Bouncer{Dir: bouncerDir(t), Port: BouncerPort, TCP: opts.TCP, db: db, bin: BouncerBinary(t)}
	cred, err := devdb.ServerCredential(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	b.cred = cred
	writeOwned(t, filepath.Join(b.Dir, "userlist.txt"),
		fmt.Sprintf("%q \"\"\n%q \"\"\n", App, BouncerAdmin), cred)
	t.Cleanup(b.Stop)
	// A port FreePort found may be taken again before PgBouncer binds it.
	for attempt := 1; ; attempt++ {
		if b.TCP {
			if b.Port, err = devdb.FreePort(); err != nil {
				t.Fatal(err)
			}
		}
		writeOwned(t, b.configPath(), b.config(t, opts), cred)
		err = b.start()
		if err == nil || !b.TCP || attempt == 3 {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bouncerDir is a new folder with a path short enough for a unix socket.
func bouncerDir(t testing.TB) string {
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

func (b *Bouncer) configPath() string { return filepath.Join(b.Dir, "pgbouncer.ini") }
func (b *Bouncer) logPath() string    { return filepath.Join(b.Dir, "pgbouncer.log") }

// config points one [databases] entry at db on its server, over the
// server's unix socket when it has one.
func (b *Bouncer) config(t testing.TB, opts BouncerOptions) string {
	t.Helper()
	host, port := serverHostPort(b.db.srv.base)
	target := fmt.Sprintf("host=%s port=%s dbname=%s", host, port, b.db.Name)
	if b.db.srv.cluster == nil {
		// A shared server checks passwords; a throwaway one trusts its socket.
		target += fmt.Sprintf(" user=%s password=%s", App, AppPassword)
	}
	settings := map[string]string{
		"listen_addr": "", "listen_port": strconv.Itoa(b.Port), "unix_socket_dir": b.Dir,
		"pidfile": filepath.Join(b.Dir, "pgbouncer.pid"), "auth_type": "trust",
		"auth_file": filepath.Join(b.Dir, "userlist.txt"), "admin_users": BouncerAdmin,
		"pool_mode": "transaction", "default_pool_size": "4", "min_pool_size": "0",
		"reserve_pool_size": "0", "max_client_conn": "200",
		"log_connections": "0", "log_disconnections": "0",
	}
	if b.TCP {
		settings["listen_addr"] = "127.0.0.1"
	}
	if opts.PoolMode != "" {
		settings["pool_mode"] = opts.PoolMode
	}
	if opts.PoolSize != 0 {
		settings["default_pool_size"] = strconv.Itoa(opts.PoolSize)
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	names := make([]string, 0, len(settings))
	for k := range settings {
		names = append(names, k)
	}
	sort.Strings(names)
	var conf strings.Builder
	fmt.Fprintf(&conf, "[databases]\n%s = %s\n\n[pgbouncer]\n", b.db.Name, target)
	for _, k := range names {
		fmt.Fprintf(&conf, "%s = %s\n", k, settings[k])
	}
	return conf.String()
}

// writeOwned writes a private file for the account PgBouncer runs as.
func writeOwned(t testing.TB, path, content string, cred *syscall.Credential) {
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

// Start starts PgBouncer again after Stop or Kill, on the same port or
// socket, and waits until a query reaches the database through it.
func (b *Bouncer) Start(t testing.TB) {
	t.Helper()
	if err := b.start(); err != nil {
		t.Fatal(err)
	}
}

func (b *Bouncer) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc != nil {
		return fmt.Errorf("pgbouncer already runs")
	}
	logFile, err := os.OpenFile(b.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(b.bin, b.configPath())
	cmd.Dir = b.Dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: b.cred, Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start pgbouncer: %w", err)
	}
	p := &bouncerProc{cmd: cmd, exited: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	b.proc = p
	if err := b.waitReady(p); err != nil {
		b.signalLocked(syscall.SIGKILL)
		return err
	}
	return nil
}

// waitReady waits for the listener to accept connections, then checks that
// a query reaches the database through it.
func (b *Bouncer) waitReady(p *bouncerProc) error {
	network, addr := "unix", b.Addr()
	if b.TCP {
		network = "tcp"
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial(network, addr)
		if err == nil {
			conn.Close()
			break
		}
		select {
		case <-p.exited:
			return fmt.Errorf("pgbouncer exited during start-up: %v\n%s", p.err, b.LogTail())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgbouncer not listening on %s after 10s\n%s", addr, b.LogTail())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, b.URL(App))
	if err == nil {
		err = conn.Exec(ctx, "select 1").Close()
		conn.Close(ctx)
	}
	if err != nil {
		return fmt.Errorf("query through pgbouncer: %w\n%s", err, b.LogTail())
	}
	return nil
}

// Stop shuts PgBouncer down at once (SIGTERM: clients are disconnected),
// killing it if it lingers. It does nothing if it is not running.
func (b *Bouncer) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.signalLocked(syscall.SIGTERM)
}

// Kill kills PgBouncer with SIGKILL, leaving its pid file and socket
// behind as a crash would; Start brings it back.
func (b *Bouncer) Kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.signalLocked(syscall.SIGKILL)
}

// Restart stops PgBouncer (SIGTERM) and starts it again on the same port
// or socket: every client connection through it is cut.
func (b *Bouncer) Restart(t testing.TB) {
	t.Helper()
	b.Stop()
	b.Start(t)
}

func (b *Bouncer) signalLocked(sig syscall.Signal) {
	p := b.proc
	if p == nil {
		return
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	b.proc = nil
}

// LogTail returns the end of PgBouncer's log, for failure messages.
func (b *Bouncer) LogTail() string {
	out, _ := os.ReadFile(b.logPath())
	if len(out) > 3000 {
		out = out[len(out)-3000:]
	}
	return string(bytes.TrimSpace(out))
}

// Addr is where PgBouncer listens: 127.0.0.1:Port, or its socket's path.
func (b *Bouncer) Addr() string {
	if b.TCP {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port))
	}
	return filepath.Join(b.Dir, ".s.PGSQL."+strconv.Itoa(b.Port))
}

// URL is the URL a user would paste for role: the database through the
// bouncer, plus any extra query parameters ("name=value"). On TCP it is
// the plainest form, postgres://role@127.0.0.1:port/db, with nothing that
// names a pooler.
func (b *Bouncer) URL(role string, params ...string) string {
	if b.TCP {
		u := url.URL{Scheme: "postgres", User: url.User(role), Host: b.Addr(), Path: "/" + b.db.Name,
			RawQuery: strings.Join(params, "&")}
		return u.String()
	}
	q := append([]string{"host=" + b.Dir, "port=" + strconv.Itoa(b.Port)}, params...)
	return "postgres://" + role + "@/" + b.db.Name + "?" + strings.Join(q, "&")
}

// Conn connects to the database through b as App, closing the connection
// with t.
func (b *Bouncer) Conn(t testing.TB, params ...string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), b.URL(App, params...))
	if err != nil {
		t.Fatalf("connect through pgbouncer: %v\n%s", err, b.LogTail())
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// HoldServers opens n client connections through b and begins a
// transaction on each, so each pins one of the bouncer's server
// connections (in transaction mode). Releasing them commits. Their
// statements use the simple protocol, so they prepare nothing on the
// servers they hold.
func (b *Bouncer) HoldServers(t testing.TB, n int) (release func()) {
	t.Helper()
	ctx := context.Background()
	var txs []pgx.Tx
	for range n {
		conn := b.Conn(t, "default_query_exec_mode=simple_protocol")
		tx, err := conn.Begin(ctx)
		if err == nil {
			// begin alone pins a server; a statement proves it is held.
			_, err = tx.Exec(ctx, "select 1")
		}
		if err != nil {
			t.Fatalf("hold a server connection: %v\n%s", err, b.LogTail())
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

// ServerConns counts the connections App has open to b's database, as
// PostgreSQL sees them: PgBouncer's server connections, when nothing else
// connects as App.
func (b *Bouncer) ServerConns(t testing.TB) int {
	t.Helper()
	var n int
	err := b.db.Conn(t, b.db.Superuser()).QueryRow(context.Background(),
		`select count(*) from pg_stat_activity where datname = $1 and usename = $2`, b.db.Name, App).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Admin runs command on PgBouncer's admin console (RECONNECT, KILL db,
// PAUSE, RESUME, SHOW POOLS, ...) and returns the rows of its last
// result as text.
func (b *Bouncer) Admin(t testing.TB, command string) [][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, _ := url.Parse(b.URL(BouncerAdmin))
	u.Path = "/pgbouncer"
	conn, err := pgconn.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("pgbouncer admin console: %v\n%s", err, b.LogTail())
	}
	defer conn.Close(ctx)
	results, err := conn.Exec(ctx, command).ReadAll()
	if err != nil {
		t.Fatalf("pgbouncer admin %q: %v", command, err)
	}
	var rows [][]string
	if len(results) > 0 {
		for _, r := range results[len(results)-1].Rows {
			row := make([]string, len(r))
			for i, v := range r {
				row[i] = string(v)
			}
			rows = append(rows, row)
		}
	}
	return rows
}
