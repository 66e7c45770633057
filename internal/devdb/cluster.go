package devdb

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Superuser is the bootstrap superuser of every cluster devdb creates.
const Superuser = "postgres"

// Options tunes a throwaway cluster. The zero value is a unix-socket-only
// cluster in a new folder under the system's temporary directory.
type Options struct {
	// ParentDir holds the cluster's temporary folder; default os.TempDir(),
	// or /tmp when that path is too long for a unix socket.
	ParentDir string
	// TCPPort, when non-zero, also listens on 127.0.0.1 at that port. Use
	// FreePort to pick one. Restarts keep it.
	TCPPort int
	// Durable turns synchronous_commit and full_page_writes back on (see the
	// package documentation): a commit is then acknowledged only once its
	// WAL has been written to the kernel, so it survives Crash. fsync stays
	// off, since the tests crash processes, not the machine.
	Durable bool
	// Settings are extra server settings, passed as -c name=value. They
	// override the defaults (fsync off, synchronous_commit off, ...) and
	// Durable. A setting given here cannot be changed by ALTER SYSTEM.
	Settings map[string]string
	// StartTimeout bounds each wait for the server to accept connections
	// (at start and at every restart); default 60s.
	StartTimeout time.Duration
}

// Cluster is a throwaway PostgreSQL server: its data directory, socket and
// log live in Dir. The server may be stopped, crashed and started again
// (StopServer, Crash, StartServer, Restart) on the same folder, port and
// socket; Stop ends it for good and removes Dir. Its methods are safe for
// concurrent use.
type Cluster struct {
	// Dir is the temporary folder: data directory, socket and log.
	Dir string
	// Port names the unix socket (.s.PGSQL.<Port>) and, when TCP is on,
	// the TCP port.
	Port int
	// TCP reports whether the server also listens on 127.0.0.1:Port.
	TCP bool

	bin          string
	cred         *syscall.Credential
	settings     map[string]string // effective -c settings, without listen_addresses
	startTimeout time.Duration
	appName      string // a standby's application_name in primary_conninfo

	mu   sync.Mutex  // held across lifecycle changes; guards proc
	proc *process    // nil while the server is down
	up   atomic.Bool // proc != nil, readable without waiting for mu
}

var defaultSettings = map[string]string{
	"fsync":                               "off",
	"synchronous_commit":                  "off",
	"full_page_writes":                    "off",
	"max_connections":                     "300",
	"log_min_messages":                    "warning",
	"log_min_error_statement":             "panic",
	"shared_buffers":                      "128MB",
	"unix_socket_permissions":             "0777",
	"idle_in_transaction_session_timeout": "0",
	// A standby whose primary went away retries every 5s by default; a
	// failover test should not wait that long for a re-pointed standby.
	"wal_retrieve_retry_interval": "200ms",
}

// durableSettings are what Options.Durable turns back on.
var durableSettings = map[string]string{
	"synchronous_commit": "on",
	"full_page_writes":   "on",
}

// Start initialises a new cluster and starts its server. The server gets
// SIGINT (a fast shutdown) when the calling process dies, so an interrupted
// test run does not leave it behind. Call Stop to shut it down and remove it.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	c, err := newCluster(opts, nil)
	if err != nil {
		return nil, err
	}
	if err := c.initdb(ctx); err != nil {
		os.RemoveAll(c.Dir)
		return nil, err
	}
	if err := c.StartServer(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// newCluster makes the folder and fills in the cluster's fixed parameters.
// Settings layer as: defaults, then base (a standby's primary), then
// Durable, then opts.Settings.
func newCluster(opts Options, base map[string]string) (*Cluster, error) {
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := makeDir(opts.ParentDir)
	if err != nil {
		return nil, err
	}
	cred, err := ServerCredential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &Cluster{Dir: dir, Port: 5432, TCP: opts.TCPPort != 0, bin: bin, cred: cred,
		startTimeout: opts.StartTimeout}
	if opts.TCPPort != 0 {
		c.Port = opts.TCPPort
	}
	if c.startTimeout == 0 {
		c.startTimeout = 60 * time.Second
	}
	c.settings = merge(defaultSettings, base)
	if opts.Durable {
		c.settings = merge(c.settings, durableSettings)
	}
	c.settings = merge(c.settings, opts.Settings)
	return c, nil
}

func merge(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func makeDir(parent string) (string, error) {
	if parent == "" {
		parent = os.TempDir()
		// A unix socket path must stay under ~107 bytes.
		if len(parent) > 60 {
			parent = "/tmp"
		}
	}
	dir, err := os.MkdirTemp(parent, "rowgate-pg-")
	if err != nil {
		return "", fmt.Errorf("devdb: temporary folder: %w", err)
	}
	return dir, nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Dir, "data") }
func (c *Cluster) logPath() string { return filepath.Join(c.Dir, "postgres.log") }

// SocketPath is the server's unix socket, for tools that dial it directly
// (a proxy in front of a socket-only cluster, for example).
func (c *Cluster) SocketPath() string {
	return filepath.Join(c.Dir, ".s.PGSQL."+strconv.Itoa(c.Port))
}

func (c *Cluster) initdb(ctx context.Context) error {
	out, err := c.run(ctx, "initdb",
		"-D", c.dataDir(), "-U", Superuser, "--auth=trust",
		"--no-locale", "--encoding=UTF8", "--no-sync", "--no-instructions")
	if err != nil {
		return fmt.Errorf("devdb: initdb: %w\n%s", err, out)
	}
	return nil
}

// settingArgs turns the effective settings into sorted -c arguments.
func (c *Cluster) settingArgs() []string {
	names := make([]string, 0, len(c.settings))
	for k := range c.settings {
		names = append(names, k)
	}
	sort.Strings(names)
	var args []string
	for _, k := range names {
		args = append(args, "-c", k+"="+c.settings[k])
	}
	return args
}

// LogTail returns the last lines of the server log, for error messages.
func (c *Cluster) LogTail() string {
	b, _ := os.ReadFile(c.logPath())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// URL returns a libpq-style connection URL for user and database over the
// unix socket. It works with pgx, psql and node-postgres, and stays valid
// across restarts.
func (c *Cluster) URL(user, database string) string {
	q := url.Values{"host": {c.Dir}, "port": {strconv.Itoa(c.Port)}, "sslmode": {"disable"}}
	u := url.URL{Scheme: "postgres", User: url.User(user), Path: "/" + database, RawQuery: q.Encode()}
	return u.String()
}

// TCPURL returns a connection URL over 127.0.0.1, or "" when TCP is off.
func (c *Cluster) TCPURL(user, database string) string {
	if !c.TCP {
		return ""
	}
	u := url.URL{Scheme: "postgres", User: url.User(user), Host: c.TCPAddr(),
		Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// TCPAddr returns "127.0.0.1:<Port>", or "" when TCP is off.
func (c *Cluster) TCPAddr() string {
	if !c.TCP {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port))
}

// Stop shuts the server down if it runs (fast shutdown, then immediate
// after 10s) and removes the cluster's folder. It is safe to call more than
// once, and after StopServer or Crash.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.shutdownLocked()
	if rmErr := os.RemoveAll(c.Dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// cleanEnv drops PG* variables so a developer's shell cannot point initdb or
// the server somewhere else.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return append(env, "LC_ALL=C")
}
