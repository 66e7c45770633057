package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate/internal/audit"
)

// auditConnectTimeout bounds the connection attempt when the URL sets no
// connect_timeout, so an unreachable server fails fast with exit 2.
const auditConnectTimeout = 10 * time.Second

var auditFormats = map[string]func(io.Writer, *audit.Report) error{
	"text":     audit.WriteText,
	"json":     audit.WriteJSON,
	"markdown": audit.WriteMarkdown,
}

// runAudit checks a live database against rls/. It exits 0 when no finding
// is an error, 1 when one is, and 2 when it cannot audit: a bad flag, a
// database it cannot reach, a schema that does not exist.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit", stderr)
	url := fs.String("database-url", "",
		"database to audit, as any role that can read the catalogs; as the table owner, drift from rls/ is checked too (env ADMIN_DATABASE_URL, then DATABASE_URL)")
	format := fs.String("format", "text", "report format: text, json or markdown")
	schema := fs.String("schema", "public", "schema to audit")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *url == "" { // read after parsing, so -h never prints a password
		*url = firstEnv("ADMIN_DATABASE_URL", "DATABASE_URL")
	}
	write, ok := auditFormats[*format]
	switch {
	case !ok:
		return usageError{fmt.Sprintf("unknown --format %q: want text, json or markdown", *format)}
	case *url == "":
		return usageError{"no database: pass --database-url or set ADMIN_DATABASE_URL or DATABASE_URL"}
	case *schema == "":
		return usageError{"--schema must not be empty"}
	}
	conn, err := connectForAudit(ctx, *url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	report, err := audit.Run(ctx, conn, audit.Options{Schema: *schema})
	if err != nil {
		return exitError{code: 2, err: err}
	}
	if err := write(stdout, report); err != nil {
		return exitError{code: 2, err: fmt.Errorf("write report: %w", err)}
	}
	if report.HasErrors() {
		return exitError{code: 1}
	}
	return nil
}

func connectForAudit(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, usageError{fmt.Sprintf("database url: %v", err)}
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = auditConnectTimeout
	}
	cfg.RuntimeParams["application_name"] = "rowgate audit"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, exitError{code: 2, err: fmt.Errorf("connect: %w", err)}
	}
	return conn, nil
}
