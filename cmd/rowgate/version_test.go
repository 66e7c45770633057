package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rowgate/rowgate/internal/buildinfo"
)

// TestVersion: `rowgate version` and `rowgate --version` print the same one
// line, naming the version, the revision and the Go version.
func TestVersion(t *testing.T) {
	t.Parallel()
	want := buildinfo.Read().String() + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		if stdout.String() != want {
			t.Errorf("%v printed %q, want %q", args, stdout.String(), want)
		}
		for _, key := range []string{"version=", "revision=", "go=go1."} {
			if !strings.Contains(stdout.String(), key) {
				t.Errorf("%v: %q lacks %q", args, stdout.String(), key)
			}
		}
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"version", "extra"}, new(bytes.Buffer), &stderr); code != 2 {
		t.Errorf("version with an argument: exit %d, want 2", code)
	}
}
