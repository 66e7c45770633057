package devdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ShutdownMode is how StopServer and Restart stop the server, as pg_ctl's
// --mode does.
type ShutdownMode int

const (
	// ShutdownFast (SIGINT) rolls back open transactions, disconnects the
	// clients, writes a shutdown checkpoint and exits: pg_ctl -m fast.
	ShutdownFast ShutdownMode = iota
	// ShutdownImmediate (SIGQUIT) makes every process quit at once with no
	// checkpoint; the next start runs crash recovery: pg_ctl -m immediate.
	ShutdownImmediate
)

func (m ShutdownMode) signal() syscall.Signal {
	if m == ShutdownImmediate {
		return syscall.SIGQUIT
	}
	return syscall.SIGINT
}

// String names the mode as pg_ctl does.
func (m ShutdownMode) String() string {
	if m == ShutdownImmediate {
		return "immediate"
	}
	return "fast"
}

// ErrRunning is returned by StartServer when the server already runs.
var ErrRunning = errors.New("devdb: the server is already running")

// ErrNotRunning is returned by Crash, Restart and the SQL helpers when the
// server is down.
var ErrNotRunning = errors.New("devdb: the server is not running")

// Downtime is when a restarted server stopped and came back.
type Downtime struct {
	// Down is when the shutdown signal was sent: from then on the server
	// refuses new connections.
	Down time.Time
	// Up is when the new server was first seen accepting connections
	// (polled every 5ms).
	Up time.Time
}

// Duration is how long the server was down.
func (d Downtime) Duration() time.Duration { return d.Up.Sub(d.Down) }

// process is one run of the postmaster.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait returns
	err    error         // cmd.Wait's result, set before exited closes
}

// setProc records the running postmaster, or nil; the caller holds c.mu.
func (c *Cluster) setProc(p *process) {
	c.proc = p
	c.up.Store(p != nil)
}

// StartServer starts the server on the cluster's existing data directory,
// port and socket, and waits until it accepts connections (a standby: read
// only connections). After a Crash or an immediate shutdown this runs crash
// recovery first. It returns ErrRunning if the server already runs.
func (c *Cluster) StartServer(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.startLocked(ctx)
}

func (c *Cluster) startLocked(ctx context.Context) error {
	if c.proc != nil {
		return ErrRunning
	}
	logFile, err := os.OpenFile(c.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("devdb: log file: %w", err)
	}
	defer logFile.Close()
	if c.cred != nil {
		os.Chown(c.logPath(), int(c.cred.Uid), int(c.cred.Gid))
	}
	listen := ""
	if c.TCP {
		listen = "127.0.0.1"
	}
	args := []string{"-D", c.dataDir(), "-k", c.Dir, "-p", strconv.Itoa(c.Port), "-c", "listen_addresses=" + listen}
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), append(args, c.settingArgs()...)...)
	cmd.Dir = c.Dir
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGINT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("devdb: start postgres: %w", err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	c.setProc(p)
	if err := c.waitReady(ctx, p); err != nil {
		c.killLocked()
		return err
	}
	return nil
}

// waitReady polls postmaster.pid until it names p's pid and its status line
// says "ready" (or "standby" for a hot standby), which PostgreSQL writes
// once it accepts connections.
func (c *Cluster) waitReady(ctx context.Context, p *process) error {
	deadline := time.Now().Add(c.startTimeout)
	pidFile := filepath.Join(c.dataDir(), "postmaster.pid")
	want := strconv.Itoa(p.cmd.Process.Pid)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(pidFile)
		if err == nil {
			lines := strings.Split(string(b), "\n")
			if len(lines) >= 8 && lines[0] == want {
				if s := strings.TrimSpace(lines[7]); s == "ready" || s == "standby" {
					return nil
				}
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("devdb: postgres exited during start-up: %v\n%s", p.err, c.LogTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return fmt.Errorf("devdb: postgres not ready after %s\n%s", c.startTimeout, c.LogTail())
}

// StopServer stops the server in mode and waits until it has exited, keeping
// the data directory, so StartServer can bring it back. It does nothing if
// the server is down. When ctx ends first it returns ctx's error and the
// server goes on shutting down.
func (c *Cluster) StopServer(ctx context.Context, mode ShutdownMode) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopLocked(ctx, mode)
}

func (c *Cluster) stopLocked(ctx context.Context, mode ShutdownMode) error {
	p := c.proc
	if p == nil {
		return nil
	}
	p.cmd.Process.Signal(mode.signal())
	select {
	case <-p.exited:
		c.setProc(nil)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("devdb: %s shutdown: %w", mode, ctx.Err())
	}
}

// Restart stops the server in mode and starts it again on the same data
// directory, port and socket, waiting until it accepts connections. The
// Downtime says when it went down and when it was back.
func (c *Cluster) Restart(ctx context.Context, mode ShutdownMode) (Downtime, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return Downtime{}, ErrNotRunning
	}
	d := Downtime{Down: time.Now()}
	if err := c.stopLocked(ctx, mode); err != nil {
		return d, err
	}
	if err := c.startLocked(ctx); err != nil {
		return d, err
	}
	d.Up = time.Now()
	return d, nil
}

// Crash kills the postmaster with SIGKILL, as kill -9 would, and waits until
// it and every one of its children are gone (the children notice the
// postmaster's death and exit; any still there after 10s get SIGKILL too).
// Nothing is cleaned up: the next StartServer finds a stale postmaster.pid
// and runs crash recovery. Commits acknowledged with synchronous_commit=on
// (Options.Durable) survive; with the default off, the last ones may not.
func (c *Cluster) Crash() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return ErrNotRunning
	}
	c.proc.cmd.Process.Kill()
	<-c.proc.exited
	c.setProc(nil)
	return c.waitChildrenGone(10*time.Second, 5*time.Second)
}

// shutdownLocked stops a running server for good: fast, then immediate
// after 10s, then SIGKILL after 5s more.
func (c *Cluster) shutdownLocked() error {
	p := c.proc
	if p == nil {
		return nil
	}
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGINT, 10 * time.Second}, {syscall.SIGQUIT, 5 * time.Second}} {
		p.cmd.Process.Signal(step.sig)
		select {
		case <-p.exited:
			c.setProc(nil)
			return nil
		case <-time.After(step.wait):
		}
	}
	c.killLocked()
	return errors.New("devdb: postgres did not stop; killed")
}

// killLocked kills the postmaster and its children, for failures.
func (c *Cluster) killLocked() {
	if c.proc == nil {
		return
	}
	c.proc.cmd.Process.Kill()
	<-c.proc.exited
	c.setProc(nil)
	c.waitChildrenGone(5*time.Second, 5*time.Second)
}

// run runs one of the server's tools (initdb, pg_basebackup) as the account
// the server runs as, in the cluster's folder, returning its output.
func (c *Cluster) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, tool), args...)
	cmd.Dir = c.Dir
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	return cmd.CombinedOutput()
}
