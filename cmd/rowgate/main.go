// Command rowgate is a data service for users and their todos in which
// PostgreSQL's row level security decides who owns what.
//
//	rowgate dev          run everything locally, in one command
//	rowgate serve        serve the HTTP API as rowgate_app
//	rowgate migrate      create the runtime role, apply sql/, install rls/
//	rowgate audit        check a live database's row level security against rls/
//	rowgate token        mint a development JWT
//	rowgate version      print the version and VCS revision (also --version)
//	rowgate healthcheck  exit 0 if the local server's /readyz answers 200
//
// Run `rowgate <command> -h` for a command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand. run returns an error to print; a usageError
// exits 2, anything else 1.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"dev", "run everything locally: throwaway PostgreSQL, migrate, serve, print a curl", runDev},
		{"serve", "serve the HTTP API (connects as rowgate_app)", runServe},
		{"migrate", "create the runtime role, apply sql/ migrations, install rls/ policies", runMigrate},
		{"audit", "check a live database's row level security against rls/", runAudit},
		{"token", "mint a development JWT for a user id", runToken},
		{"version", "print the version, VCS revision and Go version", runVersion},
		{"healthcheck", "exit 0 if the local server's /readyz answers 200, else 1", runHealthcheck},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = []string{"version"}
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var exit exitError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "rowgate %s: %v\n", c.name, err)
			return 2
		case errors.As(err, &exit):
			if exit.err != nil {
				fmt.Fprintf(stderr, "rowgate %s: %v\n", c.name, exit.err)
			}
			return exit.code
		default:
			fmt.Fprintf(stderr, "rowgate %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "rowgate: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: rowgate <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'rowgate <command> -h' for a command's flags.")
}

// usageError is a mistake in how the command was called (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitError ends the command with a chosen exit code, printing err unless
// it is nil (the command already said what it had to).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("rowgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, turning a bad flag into a usageError.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// firstEnv returns the first non-empty environment variable of names.
func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}
