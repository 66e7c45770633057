package main

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCPUCosts(t *testing.T) {
	u := cpuUse{server: 2 * time.Second, primary: time.Second, standbys: 500 * time.Millisecond, standbysMeasured: true}
	want := []struct {
		name       string
		us, isCore float64
	}{
		{"rowgate", 200, 5000},
		{"PostgreSQL primary", 100, 10000},
		{"PostgreSQL standbys", 50, 20000},
		{"all of them", 350, 1e6 / 350},
	}
	got := u.costs(10000)
	if len(got) != len(want) {
		t.Fatalf("%d costs, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].name != w.name || math.Abs(got[i].perRequest()-w.us) > 1e-9 || math.Abs(got[i].perCore()-w.isCore) > 1e-6 {
			t.Errorf("%s: %.3f µs, %.3f per core; want %s %.3f, %.3f", got[i].name, got[i].perRequest(), got[i].perCore(), w.name, w.us, w.isCore)
		}
	}
	t.Run("NoStandbys", func(t *testing.T) {
		u := cpuUse{server: time.Second, primary: time.Second}
		if cs := u.costs(1000); len(cs) != 3 || cs[2].name != "all of them" || cs[2].perRequest() != 2000 {
			t.Fatalf("got %+v", cs)
		}
	})
	t.Run("NothingMeasured", func(t *testing.T) {
		for _, c := range (cpuUse{}).costs(0) {
			if c.perRequest() != 0 || c.perCore() != 0 {
				t.Errorf("%s: %v µs, %v per core; want 0", c.name, c.perRequest(), c.perCore())
			}
		}
	})
	t.Run("SubAndAdd", func(t *testing.T) {
		a := cpuUse{server: 5 * time.Second, primary: 3 * time.Second, standbys: time.Second, standbysMeasured: true}
		b := cpuUse{server: 2 * time.Second, primary: time.Second, standbys: time.Second, standbysMeasured: true}
		d := a.sub(b)
		if d != (cpuUse{server: 3 * time.Second, primary: 2 * time.Second, standbysMeasured: true}) || d.add(b) != a {
			t.Fatalf("a-b = %+v, a-b+b = %+v", d, d.add(b))
		}
	})
	t.Run("Print", func(t *testing.T) {
		var b bytes.Buffer
		printCPU(&b, u, 10000)
		for _, want := range []string{"| rowgate | 2.00 | 200 | 5000 |", "| PostgreSQL standbys | 0.50 | 50 | 20000 |", "| all of them | 3.50 | 350 | 2857 |"} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, b.String())
			}
		}
	})
}

// TestPostgresCPUCountsReapedChildren plays a postmaster: this test
// process, named in a postmaster.pid, runs a child that burns CPU and
// reaps it. The child's CPU must show in the tree's total afterwards, as
// a backend's does once it has exited.
func TestPostgresCPUCountsReapedChildren(t *testing.T) {
	dir := t.TempDir()
	pidFile := strconv.Itoa(os.Getpid()) + "\n" + dir + "\n"
	if err := os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte(pidFile), 0o600); err != nil {
		t.Fatal(err)
	}
	before, err := postgresCPU([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestSpinHelper$")
	child.Env = append(os.Environ(), "LOAD_TEST_SPIN=200ms")
	if out, err := child.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	childCPU := child.ProcessState.UserTime() + child.ProcessState.SystemTime()
	after, err := postgresCPU([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	// Each reading truncates to a clock tick (10 ms).
	if grew := after[0] - before[0]; grew < childCPU-20*time.Millisecond {
		t.Fatalf("the tree's CPU grew by %s while a child used %s and was reaped", grew, childCPU)
	}
	if _, err := postgresCPU([]string{t.TempDir()}); err == nil {
		t.Error("no error for a data directory without postmaster.pid")
	}
}

// TestSpinHelper is the child of TestPostgresCPUCountsReapedChildren: it
// burns CPU until it has used LOAD_TEST_SPIN of it.
func TestSpinHelper(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("LOAD_TEST_SPIN"))
	if err != nil {
		t.Skip("only a helper process")
	}
	for x := 0; ; x++ {
		if x%100000 == 0 {
			var ru syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			if time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) >= d {
				return
			}
		}
	}
}
