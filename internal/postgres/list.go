package postgres

import (
	"strconv"

	"github.com/rowgate/rowgate/internal/todo"
)

// The list statements. Every one is built here, once, from the constant
// fragments below (never from a value), so a list costs no string work per
// request and the statement cache holds eight texts. $1 is the limit; the
// other parameters follow in the order ListStatement appends them. The
// second page of an organization's completed todos, for example, is
//
//	select id, user_id, organization_id, title, description, completed, created_at, updated_at
//	from todos where organization_id = $2 and completed = $3 and (created_at, id) < ($4, $5)
//	order by created_at desc, id desc limit $1
//
// Each has two index-backed shapes, asserted by TestListPlanShape: an
// index scan in (created_at desc, id desc) order, with no Sort, and the
// identity and membership in InitPlans, each evaluated at most once.
const (
	selectTodos = `select ` + todoColumns + ` from todos where `
	orderTodos  = ` order by created_at desc, id desc limit $1`

	// personalScope repeats the first branch of todos_select's CASE as a
	// planner hint. Row level security alone would admit exactly these
	// rows (plus the caller's organizations' todos, which
	// `organization_id is null` leaves out), but PostgreSQL cannot take an
	// index condition from inside the policy's CASE: without the hint it
	// walks the whole table. The identity comes from the same
	// transaction-local setting the policy reads, app_user_id(), never
	// from a value Go sends; and the hint can only narrow what row level
	// security allows, never widen it. It serves
	// todos_user_id_created_at_id_idx: (user_id, (organization_id is
	// null), created_at desc, id desc).
	personalScope = `organization_id is null and user_id = (select app_user_id())`
	// orgScope names the organization asked for; it is not an ownership
	// filter: the policy decides whether the caller may see its todos
	// (todos_organization_id_created_at_id_idx).
	orgScope = `organization_id = $2`
)

// listStatements[org][completed][after] is the statement for each shape
// of todo.ListQuery.
var listStatements = func() (s [2][2][2]string) {
	for org := range 2 {
		for completed := range 2 {
			for after := range 2 {
				s[org][completed][after] = buildList(org == 1, completed == 1, after == 1)
			}
		}
	}
	return s
}()

func buildList(org, completed, after bool) string {
	where, n := personalScope, 2
	if org {
		where, n = orgScope, 3
	}
	if completed {
		where += " and completed = $" + strconv.Itoa(n)
		n++
	}
	if after {
		where += " and (created_at, id) < ($" + strconv.Itoa(n) + ", $" + strconv.Itoa(n+1) + ")"
	}
	return selectTodos + where + orderTodos
}

// ListStatement picks the statement List sends for q and its arguments; it
// asks for one row more than the limit, to know whether another page
// follows. It is exported for the tools that measure or explain the list
// (tests/load), so they run exactly what the API runs.
func ListStatement(q todo.ListQuery) (string, []any) {
	args := make([]any, 1, 5)
	args[0] = q.Limit + 1
	org, completed, after := 0, 0, 0
	if q.OrganizationID != nil {
		org, args = 1, append(args, *q.OrganizationID)
	}
	if q.Completed != nil {
		completed, args = 1, append(args, *q.Completed)
	}
	if q.After != nil {
		after, args = 1, append(args, q.After.CreatedAt, q.After.ID)
	}
	return listStatements[org][completed][after], args
}
