package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rowgate/rowgate/internal/postgres"
	"github.com/rowgate/rowgate/internal/todo"
)

// The pgbench scripts run, in one pipeline (one Sync, so one implicit
// transaction and one round trip, as pgx's batch does), the same statements
// as the endpoint they are the ceiling of. :n picks a user at random. The
// list is internal/postgres's own statement (personalList), so the ceiling
// moves with the API's query and its planner hint; the writes find the
// caller's newest personal todo through the same hint and index.
const (
	pgbUser = `\set n random(0, :users - 1)
`
	pgbIdentity = `select set_config('app.user_id', 'loaduser' || lpad(:n::text, 24, '0'), true), set_config('statement_timeout', '5000', true);
`
	pgbColumns = `id, user_id, organization_id, title, description, completed, created_at, updated_at`
	pgbNewest  = `(select id from todos where organization_id is null and user_id = (select app_user_id()) order by created_at desc, id desc limit 1)`
	pgbCreate  = `insert into todos (title, description, completed, organization_id) values ('bench', null, false, null) returning ` + pgbColumns + `;
`
	// Patch and delete act on the user's newest todo, found by the same
	// index the list uses (the endpoint is given the id instead).
	pgbPatch = `update todos set title = coalesce(null::text, title), description = case when false then null::text else description end, completed = coalesce((random() < 0.5), completed), organization_id = case when false then null::text else organization_id end where id = ` + pgbNewest + ` returning ` + pgbColumns + `;
select updated_at from todos where id = ` + pgbNewest + `;
`
	pgbDelete = `delete from todos where id = ` + pgbNewest + ` returning id;
select updated_at from todos where id = ` + pgbNewest + `;
`
)

var (
	// pgbList is GET /v1/todos's first page, its limit written in.
	pgbList = func() string {
		sql, args := personalList()
		return strings.Replace(sql, "$1", strconv.Itoa(args[0].(int)), 1) + ";\n"
	}()
	// pgbListWhere is the bypass comparison: the same statement as a role
	// with BYPASSRLS, with the owner filter written out where the planner
	// hint reads the identity (a bypassing role may not call
	// app_user_id()), and no policy.
	pgbListWhere = func() string {
		const hint, literal = "(select app_user_id())", "'loaduser' || lpad(:n::text, 24, '0')"
		if !strings.Contains(pgbList, hint) {
			panic("load: the list statement no longer reads the identity as " + hint + "; update pgbListWhere")
		}
		return strings.Replace(pgbList, hint, literal, 1)
	}()
)

// personalList is the statement GET /v1/todos sends for its first page,
// and its arguments: internal/postgres's, not a copy.
func personalList() (string, []any) {
	return postgres.ListStatement(todo.ListQuery{Limit: todo.DefaultLimit})
}

func pipeline(statements ...string) string {
	return pgbUser + "\\startpipeline\n" + strings.Join(statements, "") + "\\endpipeline\n"
}

// pgbench runs script for d with clients connections and returns its tps.
func (st *stack) pgbench(ctx context.Context, url, script string, clients int, d time.Duration) (float64, error) {
	f := filepath.Join(st.tmp, fmt.Sprintf("script-%d.sql", time.Now().UnixNano()))
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, "pgbench", "-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", "2",
		"-T", strconv.Itoa(max(1, int(d.Round(time.Second).Seconds()))), "-D", fmt.Sprintf("users=%d", st.o.users), "-f", f, url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench: no tps in output:\n%s", out)
	}
	if strings.Contains(string(out), "number of failed transactions: ") && !strings.Contains(string(out), "number of failed transactions: 0 ") {
		return 0, fmt.Errorf("pgbench: failed transactions:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}
