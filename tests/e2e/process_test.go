//go:build e2e

package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a child process whose output (stdout and stderr, interleaved) is
// kept line by line, so a test can wait for a line and a failing test can
// show what the process said.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed

	mu      sync.Mutex
	lines   []string
	eof     bool          // the output pipe is closed: no more lines
	changed chan struct{} // closed and replaced on every new line, and at eof
}

// startProc starts args with the environment vars in its own process group.
// It is stopped at the end of the test, and a failed test logs the last
// lines of its output. If the test binary dies first, the kernel kills it
// (Pdeathsig; Go starts children from threads that live as long as the
// process unless a goroutine locks one and exits, which nothing here does).
func startProc(t *testing.T, name string, vars []string, args ...string) *proc {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, done: make(chan struct{}), changed: make(chan struct{})}
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Dir = env.root
	p.cmd.Env = vars
	p.cmd.Stdout, p.cmd.Stderr = w, w
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = p.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go p.collect(r)
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- last output of %s:\n%s", name, p.tail(60))
		}
	})
	return p
}

func (p *proc) collect(r *os.File) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.eof = true
	close(p.changed)
	p.mu.Unlock()
}

// waitLine waits for the first output line matching re and returns its
// submatches. It fails when the process exits or timeout passes first.
func (p *proc) waitLine(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for seen := 0; ; {
		p.mu.Lock()
		for ; seen < len(p.lines); seen++ {
			if m := re.FindStringSubmatch(p.lines[seen]); m != nil {
				p.mu.Unlock()
				return m, nil
			}
		}
		changed, eof := p.changed, p.eof
		p.mu.Unlock()
		if eof {
			return nil, fmt.Errorf("%s exited (%s) before printing a line matching %s", p.name, p.exitStatus(), re)
		}
		select {
		case <-changed:
		case <-deadline.C:
			return nil, fmt.Errorf("%s printed no line matching %s within %s", p.name, re, timeout)
		}
	}
}

// exitStatus describes how the process ended, waiting up to a second.
func (p *proc) exitStatus() string {
	select {
	case <-p.done:
		if p.err == nil {
			return "exit status 0"
		}
		return p.err.Error()
	case <-time.After(time.Second):
		return "output closed"
	}
}

// matching returns every line so far that matches re.
func (p *proc) matching(re *regexp.Regexp) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.lines {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

func (p *proc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines[max(0, len(p.lines)-n):], "\n")
}

// stop sends SIGTERM to the whole process group, then SIGKILL after 5s.
func (p *proc) stop() {
	pgid := p.cmd.Process.Pid
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
	syscall.Kill(-pgid, syscall.SIGKILL) // whatever is left of the group
	<-p.done
}

// childEnv returns the few inherited variables children need, plus extra.
// Nothing else leaks in: a developer's DATABASE_URL, AUTH_* or JWT_* cannot
// change what the test runs.
func childEnv(extra ...string) []string {
	var out []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return append(out, extra...)
}
