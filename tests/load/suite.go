package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// target is one line of the benchmark's verdict.
type target struct {
	name     string
	measured string
	ok       bool
}

// runBench measures everything docs/benchmarks.md reports, in one run, and
// checks the targets against each other (ratios within the run, since the
// machine is shared and noisy).
func runBench(ctx context.Context, o options) error {
	if o.target != "" {
		return fmt.Errorf("-bench boots its own stack (it needs a superuser for the bypass comparison); drop -target")
	}
	st, err := openStack(ctx, o)
	if err != nil {
		return err
	}
	defer st.close()
	pop, err := seed(ctx, st, o.users, o.todos)
	if err != nil {
		return err
	}
	if err := execSQL(ctx, st.superURL, `
		do $$ begin
		  if not exists (select from pg_roles where rolname = 'rowgate_bench_bypass') then
		    create role rowgate_bench_bypass login bypassrls;
		  end if;
		end $$;
		grant select on todos to rowgate_bench_bypass;`); err != nil {
		return err
	}
	bypassURL := strings.Replace(st.appURL, "rowgate_app@", "rowgate_bench_bypass@", 1)
	d := o.duration
	w := os.Stdout
	fmt.Fprintf(w, "# rowgate benchmark\n\n%s; %d CPUs; %d users × %d todos; %s per run\n", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), o.users, o.todos, d)

	var ts []target
	var rssPeak int64
	httpRun := func(title, mixSpec string, conns int) (*result, error) {
		m, err := parseMix(mixSpec)
		if err != nil {
			return nil, err
		}
		r, err := drive(ctx, st, pop, m, conns, d, o.seed)
		if err != nil {
			return nil, err
		}
		r.print(w, title)
		rssPeak = max(rssPeak, r.rssPeak)
		ts = append(ts, target{fmt.Sprintf("%s: isolation violations and errors", title), fmt.Sprintf("%d, %d", r.violations, r.errors), r.violations == 0 && r.errors == 0})
		return r, nil
	}
	pgb := func(title, url, script string, conns int) (float64, error) {
		tps, err := st.pgbench(ctx, url, script, conns, d)
		if err == nil {
			fmt.Fprintf(w, "\n## pgbench: %s\n\n%.0f transactions/s\n", title, tps)
		}
		return tps, err
	}

	// (a) and (b): the list ceiling and the list endpoint, at 32 and 64.
	for _, c := range []int{32, 64} {
		ceiling, err := pgb(fmt.Sprintf("list transaction as rowgate_app, %d clients", c), st.appURL, pipeline(pgbIdentity, pgbList), c)
		if err != nil {
			return err
		}
		r, err := httpRun(fmt.Sprintf("GET /v1/todos, %d connections", c), "list=100", c)
		if err != nil {
			return err
		}
		ratio := r.rps(opList) / ceiling
		ts = append(ts, target{fmt.Sprintf("list endpoint vs ceiling at %d (≥ 60%% at 32)", c), fmt.Sprintf("%.0f / %.0f = %.0f%%", r.rps(opList), ceiling, 100*ratio), c != 32 || ratio >= 0.60})
		if c == 32 {
			p99 := r.stats(opList).p99
			ts = append(ts, target{"list p99 at 32 connections (≤ 25 ms)", ms(p99) + " ms", p99 <= 25*time.Millisecond})
		}
	}

	// (c): RLS overhead at the SQL level.
	rls, err := pgb("list under RLS (rowgate_app), 32 clients", st.appURL, pipeline(pgbIdentity, pgbList), 32)
	if err != nil {
		return err
	}
	where, err := pgb("list with an explicit WHERE (BYPASSRLS role), 32 clients", bypassURL, pipeline(pgbIdentity, pgbListWhere), 32)
	if err != nil {
		return err
	}
	overhead := 1 - rls/where
	ts = append(ts, target{"RLS overhead at the SQL level (≤ 5%)", fmt.Sprintf("1 - %.0f / %.0f = %.1f%%", rls, where, 100*overhead), overhead <= 0.05})

	// Writes against their pgbench equivalents.
	for _, wr := range []struct{ name, mix, script string }{
		{"create", "create=100", pipeline(pgbIdentity, pgbCreate)},
		{"patch", "patch=100", pipeline(pgbIdentity, pgbPatch)},
		{"delete", "delete=100", pipeline(pgbIdentity, pgbDelete)},
	} {
		ceiling, err := pgb(wr.name+" transaction as rowgate_app, 32 clients", st.appURL, wr.script, 32)
		if err != nil {
			return err
		}
		if err := resync(ctx, st, pop); err != nil {
			return err
		}
		r, err := httpRun(fmt.Sprintf("%s endpoint, 32 connections", wr.name), wr.mix, 32)
		if err != nil {
			return err
		}
		o := map[string]op{"create": opCreate, "patch": opPatch, "delete": opDelete}[wr.name]
		ratio := r.rps(o) / ceiling
		ts = append(ts, target{fmt.Sprintf("%s endpoint vs pgbench (≥ 50%%)", wr.name), fmt.Sprintf("%.0f / %.0f = %.0f%%", r.rps(o), ceiling, 100*ratio), ratio >= 0.50})
	}

	// The default mix, then the same with a pool of 4 shared by every user.
	if _, err := httpRun("default mix (80/10/5/4/1), 32 connections", o.mix, 32); err != nil {
		return err
	}
	if err := st.restartServer(ctx, 4); err != nil {
		return err
	}
	if _, err := httpRun(fmt.Sprintf("default mix with DB_MAX_CONNS=4 shared by %d users, 64 connections", o.users), o.mix, 64); err != nil {
		return err
	}
	_, hwm := st.rss()
	ts = append(ts, target{"server RSS under load (≤ 100 MiB)", fmt.Sprintf("peak sampled %.1f MiB (VmHWM of the last server %.1f MiB)", float64(rssPeak)/(1<<20), float64(hwm)/(1<<20)), rssPeak <= 100<<20})
	return verdict(w, ts)
}

func verdict(w io.Writer, ts []target) error {
	fmt.Fprint(w, "\n## Targets\n\n| target | measured | met |\n|---|---|---|\n")
	failed := 0
	for _, t := range ts {
		mark := "yes"
		if !t.ok {
			mark, failed = "**no**", failed+1
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", t.name, t.measured, mark)
	}
	if failed > 0 {
		return fmt.Errorf("%d targets not met", failed)
	}
	return nil
}

// runScale measures list latency at growing table sizes and shows the
// plan stays the same: an index scan, identity in an InitPlan, no sort.
func runScale(ctx context.Context, o options) error {
	if o.target != "" {
		return fmt.Errorf("-scale boots its own stack; drop -target")
	}
	st, err := openStack(ctx, o)
	if err != nil {
		return err
	}
	defer st.close()
	w := os.Stdout
	fmt.Fprintf(w, "# rowgate list scaling\n\n%s; %d CPUs; %d users; %s per run\n", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), o.users, o.duration)
	pop, err := seed(ctx, st, o.users, 0)
	if err != nil {
		return err
	}
	have := 0
	for _, perUser := range []int{100, 1000, 10000} {
		if err := addTodos(ctx, st, pop, perUser-have); err != nil {
			return err
		}
		have = perUser
		m, _ := parseMix("list=100")
		r, err := drive(ctx, st, pop, m, o.conns, o.duration, o.seed)
		if err != nil {
			return err
		}
		r.print(w, fmt.Sprintf("%d todos (%d per user): GET /v1/todos, %d connections", perUser*o.users, perUser, o.conns))
		plan, err := explainList(ctx, st.appURL, pop.users[len(pop.users)/2].id)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\n```\n%s\n```\n", plan)
		if r.violations > 0 || r.errors > 0 {
			return fmt.Errorf("%d violations, %d errors", r.violations, r.errors)
		}
	}
	return nil
}

// explainList runs EXPLAIN ANALYZE of the list query as rowgate_app with an
// identity set, the way the API runs it.
func explainList(ctx context.Context, appURL, uid string) (string, error) {
	conn, err := pgx.Connect(ctx, appURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "select set_config('app.user_id', $1, true)", uid); err != nil {
		return "", err
	}
	rows, err := tx.Query(ctx, "explain (analyze, costs off, timing off, summary off) "+
		"select id, user_id, title, description, completed, created_at, updated_at from todos order by created_at desc, id desc limit 21")
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}
