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
)

// The pgbench scripts run, in one pipeline (one Sync, so one implicit
// transaction and one round trip, as pgx's batch does), the same statements
// as the endpoint they are the ceiling of. :n picks a user at random.
const (
	pgbUser = `\set n random(0, :users - 1)
`
	pgbIdentity = `select set_config('app.user_id', 'loaduser' || lpad(:n::text, 24, '0'), true), set_config('statement_timeout', '5000', true);
`
	pgbList = `select id, user_id, title, description, completed, created_at, updated_at from todos order by created_at desc, id desc limit 21;
`
	// The bypass comparison: the same query, with the owner filter written
	// out, as a role with BYPASSRLS.
	pgbListWhere = `select id, user_id, title, description, completed, created_at, updated_at from todos where user_id = 'loaduser' || lpad(:n::text, 24, '0') order by created_at desc, id desc limit 21;
`
	pgbCreate = `insert into todos (title, description, completed) values ('bench', null, false) returning id, user_id, title, description, completed, created_at, updated_at;
`
	// Patch and delete act on the user's newest todo, found by the same
	// index the list uses (the endpoint is given the id instead).
	pgbPatch = `update todos set title = coalesce(null::text, title), description = case when false then null::text else description end, completed = coalesce((random() < 0.5), completed) where id = (select id from todos order by created_at desc, id desc limit 1) returning id, user_id, title, description, completed, created_at, updated_at;
select updated_at from todos where id = (select id from todos order by created_at desc, id desc limit 1);
`
	pgbDelete = `delete from todos where id = (select id from todos order by created_at desc, id desc limit 1) returning id;
select updated_at from todos where id = (select id from todos order by created_at desc, id desc limit 1);
`
)

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
