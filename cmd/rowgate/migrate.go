package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/rowgate/rowgate/internal/migrate"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	url := fs.String("database-url", "",
		"database to migrate, as a role that owns it and has CREATEROLE (env ADMIN_DATABASE_URL, then DATABASE_URL)")
	betterAuth := fs.String("better-auth-schema", envOr("BETTER_AUTH_SCHEMA", migrate.DefaultBetterAuthSchema),
		"schema of Better Auth's tables, whose organization plugin decides who shares an organization's todos (env BETTER_AUTH_SCHEMA)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *url == "" { // read after parsing, so -h never prints a password
		*url = firstEnv("ADMIN_DATABASE_URL", "DATABASE_URL")
	}
	switch {
	case *url == "":
		return usageError{"no database: pass --database-url or set ADMIN_DATABASE_URL or DATABASE_URL"}
	case !migrate.ValidSchemaName(*betterAuth):
		return usageError{fmt.Sprintf("--better-auth-schema %q: want a lowercase identifier, [a-z_][a-z0-9_]*", *betterAuth)}
	}
	return migrate.Run(ctx, *url, migrate.Options{
		AppPassword:      os.Getenv("ROWGATE_APP_PASSWORD"),
		BetterAuthSchema: *betterAuth,
		Progress:         stdout,
	})
}
