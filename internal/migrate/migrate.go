package migrate

import (
	"context"
	"fmt"
	"io"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"

	"github.com/rowgate/rowgate"
)

// AppRole is the runtime login the API connects as. The name is fixed: the
// policies in rls/ are written TO it.
const AppRole = "rowgate_app"

// VersionTable records the applied migration. It lives outside the public
// schema, so every table in public is an application table under RLS.
const VersionTable = "rowgate_meta.schema_version"

// lockKey is tern's own advisory lock key, so `rowgate migrate` and the tern
// CLI exclude each other too.
const lockKey = int64(9628173550095224)

// DefaultBetterAuthSchema is where Better Auth's tables are looked for
// unless Options.BetterAuthSchema says otherwise.
const DefaultBetterAuthSchema = "better_auth"

// Options tunes a run. The zero value applies the embedded sql/ and rls/.
type Options struct {
	// AppPassword, when non-empty, becomes rowgate_app's password.
	AppPassword string
	// BetterAuthSchema is the schema of Better Auth's tables, whose
	// organization plugin app_memberships() reads (rls/memberships.sql);
	// empty means DefaultBetterAuthSchema. It must be a lowercase
	// identifier (see ValidSchemaName).
	BetterAuthSchema string
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
	// Migrations and Policies override the embedded sql/ and rls/.
	Migrations fs.FS
	Policies   fs.FS
}

// Run migrates the database at connString. On failure the database is left
// at the last migration that succeeded; a failing migration's error is an
// *Error naming its file and line.
func Run(ctx context.Context, connString string, opts Options) error {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return err
	}
	conn, err := connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("migrate: take the advisory lock: %w", err)
	}
	defer conn.Exec(context.Background(), "select pg_advisory_unlock($1)", lockKey)

	if err := ensureAppRole(ctx, conn, opts); err != nil {
		return err
	}
	if err := applyMigrations(ctx, conn, opts); err != nil {
		return err
	}
	return installPolicies(ctx, conn, opts)
}

func (o Options) withDefaults() Options {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Migrations == nil {
		o.Migrations = rowgate.Migrations
	}
	if o.Policies == nil {
		o.Policies = rowgate.Policies
	}
	if o.BetterAuthSchema == "" {
		o.BetterAuthSchema = DefaultBetterAuthSchema
	}
	return o
}

func (o Options) validate() error {
	if !ValidSchemaName(o.BetterAuthSchema) {
		return fmt.Errorf("migrate: Better Auth schema %q: want a lowercase identifier, [a-z_][a-z0-9_]*, at most 63 bytes", o.BetterAuthSchema)
	}
	return nil
}

// ValidSchemaName reports whether name is a schema name rls/ accepts: a
// lowercase SQL identifier that needs no quoting, [a-z_][a-z0-9_]*, of at
// most 63 bytes. It is spliced into rls/ as template data, so nothing else
// may pass.
func ValidSchemaName(name string) bool {
	if len(name) == 0 || len(name) > 63 || (name[0] >= '0' && name[0] <= '9') {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// connect pins search_path to public as a startup parameter: tern runs
// `reset all` after each migration, which returns to it, and a schema named
// after the migrating role can never capture the tables.
func connect(ctx context.Context, connString string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("migrate: database url: %w", err)
	}
	cfg.RuntimeParams["search_path"] = "public"
	cfg.RuntimeParams["lock_timeout"] = "30s"
	cfg.RuntimeParams["client_min_messages"] = "warning"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("migrate: connect: %w", err)
	}
	return conn, nil
}

func applyMigrations(ctx context.Context, conn *pgx.Conn, opts Options) error {
	if _, err := conn.Exec(ctx, "create schema if not exists rowgate_meta"); err != nil {
		return fmt.Errorf("migrate: create schema rowgate_meta: %w", err)
	}
	m, err := migrate.NewMigrator(ctx, conn, VersionTable)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := m.LoadMigrations(opts.Migrations); err != nil {
		return fmt.Errorf("migrate: load migrations: %w", err)
	}
	from, err := m.GetCurrentVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	m.OnStart = func(seq int32, name, direction, _ string) {
		fmt.Fprintf(opts.Progress, "migrate: %s %s\n", direction, name)
	}
	if err := m.Migrate(ctx); err != nil {
		return migrationError(ctx, conn, opts.Migrations, err)
	}
	to, err := m.GetCurrentVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if from == to {
		fmt.Fprintf(opts.Progress, "migrate: schema up to date at version %d\n", to)
	} else {
		fmt.Fprintf(opts.Progress, "migrate: schema now at version %d\n", to)
	}
	return nil
}

// MigrationFiles lists the migration files in order, as tern finds them.
func MigrationFiles(fsys fs.FS) ([]string, error) {
	return migrate.FindMigrations(fsys)
}
