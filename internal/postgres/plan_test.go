package postgres

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate/internal/pgtest"
)

// planNode is the part of EXPLAIN (FORMAT JSON) the assertions read.
type planNode struct {
	NodeType           string     `json:"Node Type"`
	IndexName          string     `json:"Index Name"`
	IndexCond          string     `json:"Index Cond"`
	ParentRelationship string     `json:"Parent Relationship"`
	Plans              []planNode `json:"Plans"`
}

func (n planNode) walk(f func(planNode)) {
	f(n)
	for _, c := range n.Plans {
		c.walk(f)
	}
}

// TestListPlanShape asserts the shape that keeps the list flat as the
// table grows: an index scan of todos_user_id_created_at_id_idx keyed on
// the identity, which is computed once in an InitPlan, and no Sort.
func TestListPlanShape(t *testing.T) {
	t.Parallel()
	tdb := pgtest.NewDB(t)
	tdb.Exec(t, `insert into users (id) select 'user' || g from generate_series(1, 200) g`)
	tdb.Exec(t, `insert into todos (user_id, title, created_at)
		select 'user' || (g % 200 + 1), 'todo ' || g, now() - g * interval '1 second'
		from generate_series(1, 20000) g`)
	tdb.Exec(t, `analyze todos`)
	conn := tdb.Conn(t, pgtest.App)
	ctx := context.Background()
	done := false
	cursor := []any{time.Now(), "00000000-0000-4000-8000-000000000000"}
	statements := map[string][]any{
		listTodos:               {21},
		listTodosAfter:          append([]any{21}, cursor...),
		listTodosCompleted:      {21, done},
		listTodosCompletedAfter: append([]any{21, done}, cursor...),
	}
	for sql, args := range statements {
		plan := explain(t, ctx, conn, sql, args)
		var scans, initPlans int
		plan.walk(func(n planNode) {
			switch {
			case n.NodeType == "Sort" || n.NodeType == "Incremental Sort":
				t.Errorf("%s: plan has a %s node", firstLine(sql), n.NodeType)
			case n.NodeType == "Seq Scan":
				t.Errorf("%s: plan has a Seq Scan", firstLine(sql))
			case n.NodeType == "Index Scan" && n.IndexName == "todos_user_id_created_at_id_idx":
				scans++
				if !strings.Contains(n.IndexCond, "user_id = $0") {
					t.Errorf("%s: index condition %q is not keyed on the InitPlan's identity", firstLine(sql), n.IndexCond)
				}
			}
			if n.ParentRelationship == "InitPlan" {
				initPlans++
			}
		})
		if scans != 1 || initPlans != 1 {
			t.Errorf("%s: %d index scans of todos_user_id_created_at_id_idx and %d InitPlans, want 1 and 1", firstLine(sql), scans, initPlans)
		}
	}
}

func explain(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string, args []any) planNode {
	t.Helper()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, setIdentity, "user7", "5000"); err != nil {
		t.Fatal(err)
	}
	var out []byte
	if err := tx.QueryRow(ctx, "explain (format json) "+sql, args...).Scan(&out); err != nil {
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

func firstLine(sql string) string {
	for _, l := range strings.Split(strings.TrimSpace(sql), "\n") {
		if strings.HasPrefix(l, "where") {
			return "list " + l
		}
	}
	return "list"
}
