package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestMigrateRefusesABadBetterAuthSchema: the schema name reaches rls/ as
// template data, so anything but a lowercase identifier is a usage error
// (exit 2) before any connection is made.
func TestMigrateRefusesABadBetterAuthSchema(t *testing.T) {
	t.Setenv("BETTER_AUTH_SCHEMA", "")
	for _, args := range [][]string{
		{"--better-auth-schema", "Auth"},
		{"--better-auth-schema", `x"; drop table todos; --`},
		{"--better-auth-schema", ""},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"migrate", "--database-url", "postgres://nobody@127.0.0.1:1/none"}, args...), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "better-auth-schema") {
			t.Errorf("migrate %q: exit %d, stderr %q; want 2 naming the flag", args, code, stderr.String())
		}
	}
	t.Setenv("BETTER_AUTH_SCHEMA", "Bad-Name")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"migrate", "--database-url", "postgres://nobody@127.0.0.1:1/none"}, &stdout, &stderr); code != 2 {
		t.Errorf("BETTER_AUTH_SCHEMA=Bad-Name: exit %d, want 2 (%s)", code, stderr.String())
	}
}
