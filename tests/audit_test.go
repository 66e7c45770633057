package tests

import (
	"context"
	"testing"

	"github.com/rowgate/rowgate/internal/audit"
	"github.com/rowgate/rowgate/internal/pgtest"
)

// TestMigratedSchemaAuditsClean runs `rowgate audit`'s checks on a freshly
// migrated database, as the table owner so drift from rls/ is checked too.
// Any error or warning fails the suite: the schema must never audit dirty.
func TestMigratedSchemaAuditsClean(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	r, err := audit.Run(context.Background(), db.Conn(t, pgtest.Owner), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.DriftChecked {
		t.Error("the audit could not compare the live policies with rls/")
	}
	for _, f := range r.Findings {
		if f.Severity == audit.Error || f.Severity == audit.Warn {
			t.Errorf("%s %s on %s: %s\n  fix: %s", f.Severity, f.Rule, f.Object, f.Detail, f.Fix)
		}
	}
	if r.HasErrors() {
		t.Error("the audit would exit 1")
	}
}
