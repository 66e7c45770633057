package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowgate/rowgate/internal/migrate"
)

// Bounds on the rolled-back install of rls/. Installing takes ACCESS
// EXCLUSIVE locks on the tables for the few milliseconds it runs, and while
// it waits for one, the app's statements queue behind it: it gives up
// quickly rather than stall them.
const (
	driftLockTimeout      = "2s"
	driftStatementTimeout = "30s"
)

// prepareDriftSQL sets, for this transaction only, the audited schema as
// search_path (rls/reset.sql drops the policies of current_schema()), the
// timeouts, and the rendered rls/ as a setting that installDriftSQL runs.
const prepareDriftSQL = `select pg_catalog.set_config('search_path', pg_catalog.quote_ident($1), true),
       pg_catalog.set_config('lock_timeout', $2, true),
       pg_catalog.set_config('statement_timeout', $3, true),
       pg_catalog.set_config('rowgate.audit_rls', $4, true)`

// installDriftSQL runs rls/ through PL/pgSQL's EXECUTE, which refuses
// COMMIT and ROLLBACK: whatever rls/ contains, it cannot end the
// transaction that is rolled back afterwards.
const installDriftSQL = `do $$ begin execute pg_catalog.current_setting('rowgate.audit_rls'); end $$`

type driftResult struct {
	checked  bool
	findings []Finding
}

// livePolicy is one pg_policies row, as compared for drift.
type livePolicy struct {
	table, name, cmd string
	roles            []string
	permissive       bool
	using, check     *string
}

// checkDrift compares the live policies of the schema with what rls/
// defines: it reads pg_policies, installs rls/ in the same transaction,
// reads pg_policies again, and rolls back. When the auditing role may not
// install rls/ (it does not own the tables) or the tables are busy, it
// reports a warning that drift was not checked, and the audit goes on.
func checkDrift(ctx context.Context, db DB, opts Options) (driftResult, error) {
	script, err := migrate.RenderPolicies(migrate.Options{Policies: opts.Policies})
	if err != nil {
		return driftResult{}, err
	}
	tx, err := db.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return driftResult{}, wrap("begin", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, prepareDriftSQL, opts.Schema, driftLockTimeout, driftStatementTimeout, script); err != nil {
		return driftResult{}, wrap("prepare drift check", err)
	}
	live, err := readLivePolicies(ctx, tx)
	if err != nil {
		return driftResult{}, err
	}
	if _, err := tx.Exec(ctx, installDriftSQL); err != nil {
		if ctx.Err() != nil {
			return driftResult{}, ctx.Err()
		}
		return notChecked(err, opts)
	}
	want, err := readLivePolicies(ctx, tx)
	if err != nil {
		return driftResult{}, err
	}
	if err := tx.Rollback(ctx); err != nil {
		return driftResult{}, wrap("roll back the drift check", err)
	}
	return driftResult{checked: true, findings: comparePolicies(live, want, opts)}, nil
}

func readLivePolicies(ctx context.Context, tx pgx.Tx) (map[string]livePolicy, error) {
	rows, _ := tx.Query(ctx, driftPoliciesSQL)
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (livePolicy, error) {
		var p livePolicy
		err := row.Scan(&p.table, &p.name, &p.cmd, &p.roles, &p.permissive, &p.using, &p.check)
		return p, err
	})
	out := map[string]livePolicy{}
	for _, p := range list {
		out[p.table+"\x00"+p.name] = p
	}
	return out, wrap("read pg_policies", err)
}

const notCheckedWhy = "Unless the live policies are compared with rls/, a policy changed by hand goes unnoticed."

// notChecked turns a failed install into findings. Lacking the privilege
// or the locks leaves drift unchecked (a warning); any other database error
// means rls/ does not even install here, which is drift itself.
func notChecked(err error, opts Options) (driftResult, error) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return driftResult{}, wrap("install rls/ for the drift check", err)
	}
	object := "schema " + ident(opts.Schema)
	f := newFinding(RulePolicyDrift, object, "", "")
	switch pgErr.Code {
	case pgerrcode.InsufficientPrivilege, pgerrcode.ReadOnlySQLTransaction:
		f.Severity, f.Why = Warn, notCheckedWhy
		f.Detail = fmt.Sprintf("drift not checked: the auditing role may not install rls/, even in a transaction that is rolled back: %s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
		f.Fix = "Run the audit as the role that owns the tables (the one that runs rowgate migrate) to compare the live policies with rls/."
	case pgerrcode.LockNotAvailable, pgerrcode.QueryCanceled:
		f.Severity, f.Why = Warn, notCheckedWhy
		f.Detail = fmt.Sprintf("drift not checked: the tables stayed locked past the %s lock timeout (SQLSTATE %s)", driftLockTimeout, pgErr.Code)
		f.Fix = "Run the audit again when the tables are less busy."
	default:
		f.Detail = fmt.Sprintf("rls/ does not install on this database: %s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
		f.Fix = "Bring the schema up to date with rowgate migrate, or fix rls/ to match the schema."
	}
	return driftResult{findings: []Finding{f}}, nil
}

// comparePolicies reports every policy that rls/ defines and the database
// lacks, that the database has and rls/ does not, and that differs in
// command, roles, permissiveness or either expression.
func comparePolicies(live, want map[string]livePolicy, opts Options) []Finding {
	const fix = "Run rowgate migrate to restore rls/, or write the intended change into rls/ and have it reviewed."
	var out []Finding
	for key, w := range want {
		object := fmt.Sprintf("policy %s on %s", ident(w.name), qualified(opts.Schema, w.table))
		l, ok := live[key]
		if !ok {
			out = append(out, newFinding(RulePolicyDrift, object, "defined in rls/ but missing from the database", fix))
			continue
		}
		if diffs := policyDiffs(l, w); len(diffs) > 0 {
			out = append(out, newFinding(RulePolicyDrift, object, strings.Join(diffs, "; "), fix))
		}
	}
	for key, l := range live {
		if _, ok := want[key]; !ok {
			object := fmt.Sprintf("policy %s on %s", ident(l.name), qualified(opts.Schema, l.table))
			out = append(out, newFinding(RulePolicyDrift, object, "in the database but not in rls/: the next rowgate migrate drops it", fix))
		}
	}
	return out
}

func policyDiffs(live, want livePolicy) []string {
	var diffs []string
	differ := func(what, got, rls string) {
		if got != rls {
			diffs = append(diffs, fmt.Sprintf("%s %s, rls/ says %s", what, got, rls))
		}
	}
	differ("command is", live.cmd, want.cmd)
	differ("roles are", strings.Join(sorted(live.roles), ", "), strings.Join(sorted(want.roles), ", "))
	differ("kind is", permissiveness(live.permissive), permissiveness(want.permissive))
	differ("USING is", normalizeExpr(live.using), normalizeExpr(want.using))
	differ("WITH CHECK is", normalizeExpr(live.check), normalizeExpr(want.check))
	return diffs
}

func permissiveness(p bool) string {
	if p {
		return "permissive"
	}
	return "restrictive"
}

// normalizeExpr collapses white space in a deparsed expression. PostgreSQL
// deparses both sides in the same session, so the rest compares as is.
func normalizeExpr(e *string) string {
	if e == nil {
		return "(none)"
	}
	return strings.Join(strings.Fields(*e), " ")
}

func sorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}
