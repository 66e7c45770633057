package main

import (
	"context"
	"io"
	"os"

	"github.com/rowgate/rowgate/internal/migrate"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	url := fs.String("database-url", "",
		"database to migrate, as a role that owns it and has CREATEROLE (env ADMIN_DATABASE_URL, then DATABASE_URL)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *url == "" { // read after parsing, so -h never prints a password
		*url = firstEnv("ADMIN_DATABASE_URL", "DATABASE_URL")
	}
	if *url == "" {
		return usageError{"no database: pass --database-url or set ADMIN_DATABASE_URL or DATABASE_URL"}
	}
	return migrate.Run(ctx, *url, migrate.Options{
		AppPassword: os.Getenv("ROWGATE_APP_PASSWORD"),
		Progress:    stdout,
	})
}
