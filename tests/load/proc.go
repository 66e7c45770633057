package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"

	"github.com/rowgate/rowgate/internal/devdb"
)

// proc is one `rowgate serve` child process.
type proc struct {
	bin     string
	base    string // http://127.0.0.1:port or unix:/path
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	exitErr error         // its exit status, once exited is closed
}

// startProc runs bin serve as a child process on a free port (or its own
// unix socket with -unix) and waits for /readyz. Every binary gets the same
// environment (serverEnv), so two revisions compared in one run differ
// only in their code. A binary that exits before it is ready (a newer
// revision missing a setting, say) is reported at once.
func (st *stack) startProc(ctx context.Context, bin string, maxConns int) (*proc, error) {
	return st.startProcOn(ctx, bin, maxConns, st.appURL)
}

// startProcOn is startProc against the database at appURL (rowgate_app).
func (st *stack) startProcOn(ctx context.Context, bin string, maxConns int, appURL string) (*proc, error) {
	port, err := devdb.FreePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p := &proc{bin: bin, base: "http://" + addr, exited: make(chan struct{})}
	if st.o.unix {
		addr = "unix:" + filepath.Join(st.tmp, fmt.Sprintf("rowgate-%d.sock", port))
		p.base = addr
	}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = st.serverEnv(addr, maxConns, appURL)
	p.cmd.Stdout, p.cmd.Stderr = os.Stderr, os.Stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.exitErr = p.cmd.Wait(); close(p.exited) }()
	if err := waitReady(ctx, p.base, p.exited, 60*time.Second); err != nil {
		if errors.Is(err, errExited) {
			err = fmt.Errorf("%s serve exited before it was ready (%v); a newer revision may need a setting: pass it with -server-env", bin, p.exitErr)
		}
		p.stop()
		return nil, err
	}
	return p, nil
}

var errExited = errors.New("server exited")

// waitReady polls base/readyz until it answers 200: every 50 ms for the
// first second, then backing off to 1 s (a server that waits for its
// dependencies, or limits unauthenticated requests per address, must not
// be kept busy by the probe itself).
func waitReady(ctx context.Context, base string, exited <-chan struct{}, timeout time.Duration) error {
	probe := newConn(base)
	defer probe.close()
	var body bytes.Buffer
	start := time.Now()
	for wait := 50 * time.Millisecond; time.Since(start) < timeout; {
		if time.Since(start) > time.Second {
			wait = min(2*wait, time.Second)
		}
		if status, err := probe.do(ctx, "GET", "/readyz", "none", "", &body); err == nil && status == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errExited
		case <-time.After(wait):
		}
	}
	return fmt.Errorf("rowgate serve did not become ready within %s", timeout)
}

// stop sends SIGTERM and waits for the process to exit; after 40 s (longer
// than serve's default shutdown timeout) it kills it.
func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(40 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// cpu returns the user and system CPU time the process has used so far.
func (p *proc) cpu() (time.Duration, error) {
	pr, err := procfs.NewProc(p.cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	s, err := pr.Stat()
	if err != nil {
		return 0, err
	}
	return time.Duration(s.CPUTime() * float64(time.Second)), nil
}

// rss returns the process's resident memory now and at its peak, in bytes.
func (p *proc) rss() (now, peak int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			now = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return now, peak
}
