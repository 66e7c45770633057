package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate/internal/pgtest"
	"github.com/rowgate/rowgate/internal/todo"
)

// planNode is the part of EXPLAIN (ANALYZE, FORMAT JSON) the assertions
// read.
type planNode struct {
	NodeType           string     `json:"Node Type"`
	IndexName          string     `json:"Index Name"`
	IndexCond          string     `json:"Index Cond"`
	ParentRelationship string     `json:"Parent Relationship"`
	SubplanName        string     `json:"Subplan Name"`
	FunctionName       string     `json:"Function Name"`
	ActualLoops        int        `json:"Actual Loops"`
	Plans              []planNode `json:"Plans"`
}

func (n planNode) walk(f func(planNode)) {
	f(n)
	for _, c := range n.Plans {
		c.walk(f)
	}
}

// shapeOf summarises a plan: which indexes it scans in order (and with what
// condition), whether anything sorts or scans the whole table, how many
// InitPlans it has, and how often app_memberships() ran.
type planShape struct {
	indexScans      map[string]string // index name -> Index Cond
	sorts, seqScans []string
	initPlans       int
	membershipRuns  int
}

func shapeOf(plan planNode) planShape {
	s := planShape{indexScans: map[string]string{}}
	plan.walk(func(n planNode) {
		switch n.NodeType {
		case "Sort", "Incremental Sort":
			s.sorts = append(s.sorts, n.NodeType)
		case "Seq Scan", "Bitmap Heap Scan":
			s.seqScans = append(s.seqScans, n.NodeType)
		case "Index Scan":
			s.indexScans[n.IndexName] = n.IndexCond
		case "Function Scan":
			if n.FunctionName == "app_memberships" {
				s.membershipRuns += n.ActualLoops
			}
		}
		if n.ParentRelationship == "InitPlan" {
			s.initPlans++
		}
	})
	return s
}

// TestListPlanShape asserts the shapes that keep every list flat as the
// table grows, on a table of personal and organization todos where the
// caller (user7) has both:
//   - personal lists: an index scan of todos_user_id_created_at_id_idx
//     keyed on the identity from an InitPlan and on organization_id being
//     null; membership never read (its InitPlan is never executed);
//   - organization lists: an index scan of
//     todos_organization_id_created_at_id_idx keyed on the organization,
//     with membership read once, in an InitPlan;
//
// and never a Sort, a sequential or a bitmap scan.
func TestListPlanShape(t *testing.T) {
	t.Parallel()
	tdb := pgtest.NewDB(t)
	tdb.Exec(t, `insert into better_auth.organization (id, name, slug, "createdAt")
		select 'org' || g, 'Org ' || g, 'org' || g, now() from generate_series(1, 40) g`)
	tdb.Exec(t, `insert into better_auth.member (id, "organizationId", "userId", role, "createdAt")
		select 'm' || g, 'org' || g, 'user7', 'member', now() from generate_series(1, 20) g`)
	tdb.Exec(t, `insert into users (id) select 'user' || g from generate_series(1, 200) g`)
	tdb.Exec(t, `insert into todos (user_id, organization_id, title, created_at)
		select 'user' || (g % 200 + 1), case when g % 2 = 0 then 'org' || (g % 40 + 1) end, 'todo ' || g,
		       now() - g * interval '1 second'
		from generate_series(1, 40000) g`)
	tdb.Exec(t, `analyze todos`)
	conn := tdb.Conn(t, pgtest.App)
	ctx := context.Background()
	org, done := "org5", false
	after := &todo.Cursor{CreatedAt: time.Now(), ID: "00000000-0000-4000-8000-000000000000"}
	for _, q := range []todo.ListQuery{
		{Limit: 20}, {Limit: 20, After: after}, {Limit: 20, Completed: &done}, {Limit: 20, Completed: &done, After: after},
		{Limit: 20, OrganizationID: &org}, {Limit: 20, OrganizationID: &org, After: after},
		{Limit: 20, OrganizationID: &org, Completed: &done}, {Limit: 20, OrganizationID: &org, Completed: &done, After: after},
	} {
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			checkListPlan(t, ctx, conn, q, mode)
		}
	}
}

// checkListPlan asserts q's plan as the planner makes it with the
// parameters' values (a custom plan) and without (the generic plan a
// prepared statement may switch to).
func checkListPlan(t *testing.T, ctx context.Context, conn *pgx.Conn, q todo.ListQuery, mode string) {
	t.Helper()
	sql, args := ListStatement(q)
	name := describeList(q) + " " + mode
	s := shapeOf(explain(t, ctx, conn, mode, sql, args))
	{
		if len(s.sorts) > 0 || len(s.seqScans) > 0 {
			t.Errorf("%s: plan has %v %v", name, s.sorts, s.seqScans)
		}
		wantIndex, wantCond, wantRuns := "todos_user_id_created_at_id_idx", "(user_id = $0) AND ((organization_id IS NULL) = true)", 0
		if q.OrganizationID != nil {
			wantIndex, wantCond, wantRuns = "todos_organization_id_created_at_id_idx", "(organization_id = ", 1
		}
		cond, ok := s.indexScans[wantIndex]
		switch {
		case !ok || len(s.indexScans) != 1:
			t.Errorf("%s: index scans %v, want one of %s", name, s.indexScans, wantIndex)
		case mode == "force_generic_plan" && strings.Contains(cond, "'"):
			t.Errorf("%s: index condition %q has values: not a generic plan", name, cond)
		case !strings.Contains(cond, wantCond):
			t.Errorf("%s: index condition %q, want it to contain %q", name, cond, wantCond)
		}
		if s.initPlans == 0 {
			t.Errorf("%s: no InitPlan: the identity or membership is evaluated per row", name)
		}
		if s.membershipRuns != wantRuns {
			t.Errorf("%s: app_memberships() ran %d times, want %d", name, s.membershipRuns, wantRuns)
		}
	}
}

func describeList(q todo.ListQuery) string {
	return fmt.Sprintf("list org=%v completed=%v after=%v", q.OrganizationID != nil, q.Completed != nil, q.After != nil)
}

// explain runs EXPLAIN ANALYZE as user7 under plan_cache_mode mode, in a
// transaction that is rolled back.
func explain(t *testing.T, ctx context.Context, conn *pgx.Conn, mode, sql string, args []any) planNode {
	t.Helper()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, setIdentity, "user7", "5000"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "select set_config('plan_cache_mode', $1, true)", mode); err != nil {
		t.Fatal(err)
	}
	// EXPLAIN plans its statement with the parameters' values; only a
	// prepared statement can show the generic plan.
	explainSQL := "explain (analyze, timing off, format json) " + sql
	if mode == "force_generic_plan" {
		if _, err := tx.Exec(ctx, "prepare list_plan as "+sql); err != nil {
			t.Fatal(err)
		}
		defer conn.Exec(ctx, "deallocate list_plan")
		explainSQL = "explain (analyze, timing off, format json) execute list_plan(" + literals(args) + ")"
		args = nil
	}
	var out []byte
	if err := tx.QueryRow(ctx, explainSQL, args...).Scan(&out); err != nil {
		t.Fatal(err)
	}
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("explain output %s: %v", out, err)
	}
	return plans[0].Plan
}

// literals renders the test's own arguments for EXECUTE, which takes no
// bind parameters inside EXPLAIN.
func literals(args []any) string {
	out := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			out[i] = "'" + v.Format(time.RFC3339Nano) + "'"
		case string:
			out[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		default:
			out[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(out, ", ")
}
