package audit

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate"
	"github.com/rowgate/rowgate/internal/migrate"
)

// ErrNoSchema is returned when the schema to audit does not exist.
var ErrNoSchema = errors.New("audit: no such schema")

// Options says what to audit. The zero value audits rowgate's own set-up:
// schema public, role rowgate_app, accessor app_user_id(), the embedded rls/.
type Options struct {
	// Schema is the schema whose tables, views and functions are audited.
	Schema string
	// AppRole is the runtime role the policies are written for.
	AppRole string
	// Accessor is the name of the function, in Schema, that policies call
	// to read the caller's identity.
	Accessor string
	// Policies is the rls/ code package the live policies must match.
	Policies fs.FS
	// Now stamps the report; default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Schema == "" {
		o.Schema = "public"
	}
	if o.AppRole == "" {
		o.AppRole = migrate.AppRole
	}
	if o.Accessor == "" {
		o.Accessor = "app_user_id"
	}
	if o.Policies == nil {
		o.Policies = rowgate.Policies
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// DB is what Run reads through: a *pgx.Conn or a *pgxpool.Pool.
type DB interface {
	BeginTx(ctx context.Context, txOptions pgx.TxOptions) (pgx.Tx, error)
}

// Run audits the database behind db as whichever role db is connected as;
// any role that can read the system catalogs will do. It changes nothing:
// the catalogs are read in a read-only transaction, and the drift check
// installs rls/ in a transaction that is always rolled back.
//
// Run returns an error only when it cannot audit (the schema does not exist,
// the connection fails); what is wrong with the database is in the
// report's findings.
func Run(ctx context.Context, db DB, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	r := &Report{Schema: opts.Schema, GeneratedAt: opts.Now().UTC().Truncate(time.Second)}
	c, err := readCatalog(ctx, db, r, opts)
	if err != nil {
		return nil, err
	}
	r.AppRole, r.Accessor, r.Views = c.role, c.accessor, c.views
	for _, f := range c.functions {
		r.Functions = append(r.Functions, f.Function)
	}
	for _, t := range c.tables {
		t.Policies = []Policy{}
		for _, p := range t.policies {
			t.Policies = append(t.Policies, p.Policy)
		}
		r.Tables = append(r.Tables, t.Table)
	}
	for _, family := range []func(*catalog, Options) []Finding{rlsRules, policyRules, roleRules, objectRules, functionRules} {
		r.Findings = append(r.Findings, family(c, opts)...)
	}
	drift, err := checkDrift(ctx, db, opts)
	if err != nil {
		return nil, err
	}
	r.DriftChecked = drift.checked
	r.Findings = append(r.Findings, drift.findings...)
	r.normalize()
	return r, nil
}

// readCatalog loads the catalog in one read-only transaction whose
// search_path is the audited schema, so PostgreSQL prints the schema's own
// names unqualified, as rls/ writes them.
func readCatalog(ctx context.Context, db DB, r *Report, opts Options) (*catalog, error) {
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, wrap("begin", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, setSearchPathSQL, opts.Schema); err != nil {
		return nil, wrap("set search_path", err)
	}
	return loadCatalog(ctx, tx, r, opts)
}

const setSearchPathSQL = `select pg_catalog.set_config('search_path', pg_catalog.quote_ident($1), true)`

// normalize sorts and counts the findings and turns nil slices into empty
// ones, so the JSON form always has the same shape.
func (r *Report) normalize() {
	r.finish()
	if r.Tables == nil {
		r.Tables = []Table{}
	}
	if r.Views == nil {
		r.Views = []View{}
	}
	if r.Functions == nil {
		r.Functions = []Function{}
	}
}
