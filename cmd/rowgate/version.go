package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rowgate/rowgate/internal/buildinfo"
)

// runVersion prints one line: version, VCS revision, whether the tree was
// modified, and the Go version (see internal/buildinfo).
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if err := parseFlags(newFlagSet("version", stderr), args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, buildinfo.Read())
	return nil
}
