package devdb

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// waitChildrenGone waits until no process runs in the cluster's data
// directory: every postgres process works there (the postmaster chdirs to
// it and its children inherit that), and each child is its own session
// leader, so neither the parent pid nor the process group finds them once
// the postmaster is dead. Those still there after grace get SIGKILL; it
// gives up after a further limit.
func (c *Cluster) waitChildrenGone(grace, limit time.Duration) error {
	dir, err := filepath.EvalSymlinks(c.dataDir())
	if err != nil {
		return nil // no data directory, no server
	}
	killAt := time.Now().Add(grace)
	giveUp := killAt.Add(limit)
	for {
		pids := processesIn(dir)
		if len(pids) == 0 {
			return nil
		}
		now := time.Now()
		if now.After(giveUp) {
			return fmt.Errorf("devdb: postgres processes %v still run in %s", pids, dir)
		}
		if now.After(killAt) {
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// processesIn lists the live processes whose working directory is dir,
// from /proc (zombies have none, so they do not count).
func processesIn(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && cwd == dir {
			pids = append(pids, pid)
		}
	}
	return pids
}
