package devdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
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
	// FreePort to pick one.
	TCPPort int
	// Settings are extra server settings, passed as -c name=value. They
	// override the defaults (fsync off, synchronous_commit off, ...).
	Settings map[string]string
	// StartTimeout bounds the wait for the server to accept connections;
	// default 60s.
	StartTimeout time.Duration
}

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	// Dir is the temporary folder: data directory, socket and log.
	Dir string
	// Port names the unix socket (.s.PGSQL.<Port>) and, when TCP is on,
	// the TCP port.
	Port int
	// TCP reports whether the server also listens on 127.0.0.1:Port.
	TCP bool

	cmd  *exec.Cmd
	done chan error
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
}

// Start initialises a new cluster and starts its server. The server gets
// SIGINT (a fast shutdown) when the calling process dies, so an interrupted
// test run does not leave it behind. Call Stop to shut it down and remove it.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := makeDir(opts.ParentDir)
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &Cluster{Dir: dir, Port: 5432, TCP: opts.TCPPort != 0, done: make(chan error, 1)}
	if opts.TCPPort != 0 {
		c.Port = opts.TCPPort
	}
	if err := c.initdb(ctx, bin, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.start(ctx, bin, cred, opts); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
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

func (c *Cluster) initdb(ctx context.Context, bin string, cred *syscall.Credential) error {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", c.dataDir(), "-U", Superuser, "--auth=trust",
		"--no-locale", "--encoding=UTF8", "--no-sync", "--no-instructions")
	cmd.Dir = c.Dir
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("devdb: initdb: %w\n%s", err, out)
	}
	return nil
}

func (c *Cluster) start(ctx context.Context, bin string, cred *syscall.Credential, opts Options) error {
	logFile, err := os.OpenFile(c.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("devdb: log file: %w", err)
	}
	defer logFile.Close()
	if cred != nil {
		os.Chown(c.logPath(), int(cred.Uid), int(cred.Gid))
	}
	listen := ""
	if c.TCP {
		listen = "127.0.0.1"
	}
	args := []string{"-D", c.dataDir(), "-k", c.Dir, "-p", strconv.Itoa(c.Port), "-c", "listen_addresses=" + listen}
	args = append(args, settingArgs(opts.Settings)...)
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	c.cmd.Dir = c.Dir
	c.cmd.Env = cleanEnv()
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT, Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("devdb: start postgres: %w", err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	return c.waitReady(ctx, timeout)
}

func settingArgs(extra map[string]string) []string {
	merged := map[string]string{}
	for k, v := range defaultSettings {
		merged[k] = v
	}
	for k, v := range extra {
		merged[k] = v
	}
	names := make([]string, 0, len(merged))
	for k := range merged {
		names = append(names, k)
	}
	sort.Strings(names)
	var args []string
	for _, k := range names {
		args = append(args, "-c", k+"="+merged[k])
	}
	return args
}

// waitReady polls postmaster.pid until its status line says "ready", which
// PostgreSQL writes once it accepts connections.
func (c *Cluster) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	pidFile := filepath.Join(c.dataDir(), "postmaster.pid")
	for time.Now().Before(deadline) {
		select {
		case err := <-c.done:
			c.done <- err
			return fmt.Errorf("devdb: postgres exited during start-up: %v\n%s", err, c.LogTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		b, err := os.ReadFile(pidFile)
		if err != nil {
			continue
		}
		lines := strings.Split(string(b), "\n")
		if len(lines) >= 8 && strings.TrimSpace(lines[7]) == "ready" {
			return nil
		}
	}
	return fmt.Errorf("devdb: postgres not ready after %s\n%s", timeout, c.LogTail())
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
// unix socket. It works with pgx, psql and node-postgres.
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
	u := url.URL{Scheme: "postgres", User: url.User(user), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)),
		Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// Stop shuts the server down (fast shutdown, then immediate after 10s) and
// removes the cluster's folder. It is safe to call more than once.
func (c *Cluster) Stop() error {
	var err error
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-c.done:
			case <-time.After(5 * time.Second):
				c.cmd.Process.Kill()
				err = errors.New("devdb: postgres did not stop; killed")
			}
		}
		c.cmd = nil
	}
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
