package audit_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rowgate/rowgate/internal/audit"
	"github.com/rowgate/rowgate/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// run audits db as role and fails the test if the audit cannot run.
func run(t *testing.T, db *pgtest.DB, role string, opts audit.Options) *audit.Report {
	t.Helper()
	r, err := audit.Run(context.Background(), db.Conn(t, role), opts)
	if err != nil {
		t.Fatalf("audit as %s: %v", role, err)
	}
	return r
}

// appMemberships is rls/memberships.sql's SECURITY DEFINER function. Every
// migrated test database has it (pgtest gives each Better Auth's tables),
// and the audit lists it, as info, for a reviewer to read.
const appMemberships = "function public.app_memberships(boolean)"

// isBaseline reports whether f is what a clean database reports: the info
// that lists app_memberships(). TestCleanDatabaseHasNoFindings pins it.
func isBaseline(f audit.Finding) bool {
	return f.Rule == audit.RuleDefinerFunction && f.Object == appMemberships && f.Severity == audit.Info
}

// findings returns the findings of rule, past the baseline.
func findings(r *audit.Report, rule string) []audit.Finding {
	var out []audit.Finding
	for _, f := range r.Findings {
		if f.Rule == rule && !isBaseline(f) {
			out = append(out, f)
		}
	}
	return out
}

// requireFinding fails unless the report has a finding of rule with
// severity sev whose detail contains detail; an error-level one must also
// fail the audit.
func requireFinding(t *testing.T, r *audit.Report, rule string, sev audit.Severity, detail string) audit.Finding {
	t.Helper()
	for _, f := range findings(r, rule) {
		if f.Severity == sev && strings.Contains(f.Detail, detail) {
			if f.Object == "" || f.Why == "" || f.Fix == "" {
				t.Errorf("finding %s lacks object, why or fix: %+v", rule, f)
			}
			if sev == audit.Error && !r.HasErrors() {
				t.Errorf("an error-level %s finding, but HasErrors() is false", rule)
			}
			return f
		}
	}
	t.Fatalf("no %s %s finding with detail containing %q; findings:\n%s", sev, rule, detail, dump(r))
	return audit.Finding{}
}

// requireNoFinding fails if the report has any finding of rule.
func requireNoFinding(t *testing.T, r *audit.Report, rule string) {
	t.Helper()
	if fs := findings(r, rule); len(fs) > 0 {
		t.Fatalf("unexpected %s finding(s):\n%s", rule, dump(r))
	}
}

// beyondBaseline counts the findings that are not the baseline.
func beyondBaseline(r *audit.Report) int {
	n := 0
	for _, f := range r.Findings {
		if !isBaseline(f) {
			n++
		}
	}
	return n
}

func dump(r *audit.Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  %s %s %s: %s\n", f.Severity, f.Rule, f.Object, f.Detail)
	}
	if b.Len() == 0 {
		return "  (none)\n"
	}
	return b.String()
}

var roleCounter atomic.Int64

// probeRole creates a fresh login role, unique to this test, and drops it
// (with what it owns in db) when the test ends. Roles are cluster-wide, so
// tests never change rowgate_app itself.
func probeRole(t *testing.T, db *pgtest.DB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("audit_%s_%s_%d", prefix, db.Name, roleCounter.Add(1))
	db.CreateRole(t, name)
	t.Cleanup(func() {
		db.Exec(t, "reassign owned by "+name+" to "+db.Superuser())
		db.Exec(t, "drop owned by "+name)
		db.Exec(t, "drop role "+name)
	})
	return name
}
