package devdb

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// SQL runs query as the superuser in the postgres database through psql
// (devdb has no driver of its own) and returns its output, trimmed: rows on
// lines, columns separated by "|", no headers. A failing statement is an
// error carrying psql's message. It returns ErrNotRunning while the server
// is down.
func (c *Cluster) SQL(ctx context.Context, query string) (string, error) {
	if !c.Running() {
		return "", ErrNotRunning
	}
	psql := filepath.Join(c.bin, "psql")
	if _, err := os.Stat(psql); err != nil {
		if psql, err = exec.LookPath("psql"); err != nil {
			return "", fmt.Errorf("devdb: psql not found next to postgres nor on PATH")
		}
	}
	cmd := exec.CommandContext(ctx, psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", c.Dir, "-p", strconv.Itoa(c.Port), "-U", Superuser, "-d", "postgres", "-c", query)
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("devdb: psql %q: %w: %s", query, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Running reports whether the server process is up (it may still be
// starting or stopping). It does not wait for a Restart in progress.
func (c *Cluster) Running() bool { return c.up.Load() }

// poll runs query every interval until ok accepts its output, ctx ends, or
// the query fails.
func (c *Cluster) poll(ctx context.Context, what, query string, ok func(string) bool) error {
	for {
		out, err := c.SQL(ctx, query)
		if err != nil {
			return err
		}
		if ok(out) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devdb: waiting for %s (last %q): %w", what, out, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// LSN is a position in the write-ahead log, PostgreSQL's pg_lsn. Later
// positions compare greater.
type LSN uint64

// ParseLSN parses PostgreSQL's text form of a pg_lsn, "16/B374D848".
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("devdb: not an LSN: %q", s)
	}
	return LSN(h<<32 | l), nil
}

// String formats l as PostgreSQL does.
func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint32(l)) }

// queryLSN runs a query returning one pg_lsn.
func (c *Cluster) queryLSN(ctx context.Context, query string) (LSN, error) {
	out, err := c.SQL(ctx, query)
	if err != nil {
		return 0, err
	}
	if out == "" {
		return 0, fmt.Errorf("devdb: %s returned NULL", query)
	}
	return ParseLSN(out)
}
