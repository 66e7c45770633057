package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rowgate/rowgate/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestAuditExitCodes runs the real command line: 0 on a clean database, 1
// on an error-level finding, 2 when the audit cannot run.
func TestAuditExitCodes(t *testing.T) {
	t.Parallel()
	clean := pgtest.NewDB(t)
	bad := pgtest.NewDB(t)
	bad.Exec(t, "alter table todos no force row level security")
	cases := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"Clean", []string{"--database-url", clean.URL(pgtest.Owner), "--format", "json"}, 0, `"errors": 0`, ""},
		{"CleanMarkdown", []string{"--database-url", clean.URL(pgtest.Owner), "--format", "markdown"}, 0, "**Result: PASS.**", ""},
		{"CleanAsApp", []string{"--database-url", clean.URL(pgtest.App)}, 0, "PASS: 0 errors, 1 warning, 1 info", ""},
		{"ErrorFinding", []string{"--database-url", bad.URL(pgtest.Owner), "--format", "json"}, 1, `"rule": "rls_not_forced"`, ""},
		{"ErrorFindingText", []string{"--database-url", bad.URL(pgtest.Owner)}, 1, "FAIL: 1 error", ""},
		{"UnknownFormat", []string{"--database-url", clean.URL(pgtest.Owner), "--format", "yaml"}, 2, "", "unknown --format"},
		{"UnknownFlag", []string{"--bogus"}, 2, "", "flag provided but not defined"},
		{"StrayArgument", []string{"--database-url", clean.URL(pgtest.Owner), "extra"}, 2, "", "unexpected argument"},
		{"BadURL", []string{"--database-url", "postgres://%zz"}, 2, "", "database url"},
		{"Unreachable", []string{"--database-url", "postgres://nobody@/x?host=/nonexistent-rowgate-socket-dir"}, 2, "", "connect"},
		{"NoSuchSchema", []string{"--database-url", clean.URL(pgtest.Owner), "--schema", "nope"}, 2, "", "no such schema"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"audit"}, c.args...), &stdout, &stderr)
			if code != c.wantCode || !strings.Contains(stdout.String(), c.wantStdout) || !strings.Contains(stderr.String(), c.wantStderr) {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.wantCode, stdout.String(), stderr.String())
			}
			if c.wantCode != 2 && strings.Contains(strings.Join(c.args, " "), "json") && !json.Valid(stdout.Bytes()) {
				t.Fatalf("stdout is not JSON:\n%s", stdout.String())
			}
		})
	}
}

// TestAuditNeedsADatabase is not parallel: it clears the environment.
func TestAuditNeedsADatabase(t *testing.T) {
	t.Setenv("ADMIN_DATABASE_URL", "")
	t.Setenv("DATABASE_URL", "")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"audit"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "no database") {
		t.Fatalf("exit %d, stderr %q; want 2 and a hint", code, stderr.String())
	}
}
