package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/procfs"

	"github.com/rowgate/rowgate/internal/devdb"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: clock ticks,
// 100 a second on Linux whatever the kernel's own tick rate.
const userHZ = 100

// cpuUse is CPU time (user + system) used by the processes a request
// costs: the rowgate server, the primary's PostgreSQL processes, and its
// standbys' (which replay every write, and serve reads when they are
// replicas). The load tool's own CPU is not in it.
type cpuUse struct {
	server, primary, standbys time.Duration
	standbysMeasured          bool // the stack had standbys
}

func (a cpuUse) sub(b cpuUse) cpuUse {
	return cpuUse{server: a.server - b.server, primary: a.primary - b.primary,
		standbys: a.standbys - b.standbys, standbysMeasured: a.standbysMeasured && b.standbysMeasured}
}

func (a cpuUse) add(b cpuUse) cpuUse {
	return cpuUse{server: a.server + b.server, primary: a.primary + b.primary,
		standbys: a.standbys + b.standbys, standbysMeasured: a.standbysMeasured || b.standbysMeasured}
}

// cpuCost is one process group's CPU over a number of requests.
type cpuCost struct {
	name  string
	total time.Duration
	n     int
}

// perRequest is the CPU time per request, in µs (0 without requests).
func (c cpuCost) perRequest() float64 {
	if c.n <= 0 {
		return 0
	}
	return float64(c.total) / float64(time.Microsecond) / float64(c.n)
}

// perCore is how many requests a second one core could serve at this CPU
// cost per request (1e6 / µs per request); 0 when nothing was measured.
func (c cpuCost) perCore() float64 {
	us := c.perRequest()
	if us <= 0 {
		return 0
	}
	return 1e6 / us
}

// costs splits u over n requests, by process group, then all together.
func (u cpuUse) costs(n int) []cpuCost {
	cs := []cpuCost{{"rowgate", u.server, n}, {"PostgreSQL primary", u.primary, n}}
	all := u.server + u.primary
	if u.standbysMeasured {
		cs = append(cs, cpuCost{"PostgreSQL standbys", u.standbys, n})
		all += u.standbys
	}
	return append(cs, cpuCost{"all of them", all, n})
}

// printCPU writes the CPU per request of a span that served n requests.
func printCPU(w io.Writer, u cpuUse, n int) {
	fmt.Fprintf(w, "\nCPU per request: utime+stime from /proc over these %d requests (the load tool's own CPU not counted; on a shared machine, for information):\n\n", n)
	fmt.Fprintln(w, "| process | CPU s | µs per request | requests/s per core |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	for _, c := range u.costs(n) {
		fmt.Fprintf(w, "| %s | %.2f | %.0f | %.0f |\n", c.name, c.total.Seconds(), c.perRequest(), c.perCore())
	}
}

// cpuNow reads the CPU used so far by the stack's server and clusters. It
// fails with -target (no process of ours to read).
func (st *stack) cpuNow() (cpuUse, error) {
	if st.server == nil || st.cluster == nil {
		return cpuUse{}, fmt.Errorf("no server process or cluster of our own (-target)")
	}
	server, err := st.server.cpu()
	if err != nil {
		return cpuUse{}, err
	}
	roots := []string{st.primaryData}
	for _, s := range st.standbys {
		roots = append(roots, s.data)
	}
	byCluster, err := postgresCPU(roots)
	if err != nil {
		return cpuUse{}, err
	}
	u := cpuUse{server: server, primary: byCluster[0], standbysMeasured: len(st.standbys) > 0}
	for _, d := range byCluster[1:] {
		u.standbys += d
	}
	return u, nil
}

// dataDirectory asks a cluster where its data directory is (devdb does
// not export it).
func dataDirectory(ctx context.Context, c *devdb.Cluster) (string, error) {
	return c.SQL(ctx, "show data_directory")
}

// postmasterPID reads a running cluster's postmaster pid: the first line
// of postmaster.pid in its data directory.
func postmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

// postgresCPU returns the CPU time each cluster's processes have used so
// far: its postmaster's own, that of its live children (the processes
// whose parent it is: backends, WAL sender or receiver, startup, and the
// background workers), and, through the postmaster's cutime and cstime,
// that of every child it has already reaped. So a backend that exits
// during a span is counted exactly: its CPU moves from the live sum to
// the postmaster's children's sum when it is reaped.
func postgresCPU(dataDirs []string) ([]time.Duration, error) {
	index := make(map[int]int, len(dataDirs)) // postmaster pid → cluster
	for i, dir := range dataDirs {
		pid, err := postmasterPID(dir)
		if err != nil {
			return nil, fmt.Errorf("postmaster pid of %s: %w", dir, err)
		}
		index[pid] = i
	}
	procs, err := procfs.AllProcs()
	if err != nil {
		return nil, err
	}
	ticks := make([]int64, len(dataDirs))
	for _, p := range procs {
		s, err := p.Stat()
		if err != nil {
			continue // it exited since the listing
		}
		own := int64(s.UTime + s.STime)
		if i, ok := index[s.PID]; ok {
			ticks[i] += own + int64(s.CUTime+s.CSTime)
		} else if i, ok := index[s.PPID]; ok {
			ticks[i] += own + int64(s.CUTime+s.CSTime)
		}
	}
	out := make([]time.Duration, len(ticks))
	for i, t := range ticks {
		out[i] = time.Duration(t) * time.Second / userHZ
	}
	return out, nil
}
