package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
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
	st, pop, err := openSeeded(ctx, o, o.todos)
	if err != nil {
		return err
	}
	defer st.close()
	bypassURL, err := bypassRole(ctx, st)
	if err != nil {
		return err
	}
	d := o.duration
	w := os.Stdout
	fmt.Fprintf(w, "# rowgate benchmark\n\n%s; %d CPUs; %d users × %d todos; %s per run\n", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), o.users, o.todos, d)

	var ts []target
	var rssPeak int64
	check := func(title string, r *result) {
		rssPeak = max(rssPeak, r.rssPeak)
		ts = append(ts, target{title + ": isolation violations and errors", fmt.Sprintf("%d, %d", r.violations, r.errors), r.violations == 0 && r.errors == 0})
	}
	// versus runs a pgbench script and an HTTP mix in alternating rounds
	// (ABBA), so that a shared machine's drifting speed falls on both
	// alike, and returns pgbench's mean tps and the merged HTTP result.
	versus := func(title, url, script, mixSpec string, o2 op, conns int, resyncAfterPgbench bool) (float64, *result, error) {
		m, err := parseMix(mixSpec)
		if err != nil {
			return 0, nil, err
		}
		const rounds = 4
		var ratios []float64
		var rs []*result
		var lines []string
		for i := 0; i < rounds; i++ {
			var tps float64
			var r *result
			pgbFirst := i == 0 || i == 3 // ABBA: P H, H P, H P, P H
			for _, pgbTurn := range []bool{pgbFirst, !pgbFirst} {
				if pgbTurn {
					if tps, err = st.pgbench(ctx, url, script, conns, d/rounds); err != nil {
						return 0, nil, err
					}
					if resyncAfterPgbench {
						if err := resync(ctx, st, pop); err != nil {
							return 0, nil, err
						}
					}
					continue
				}
				if r, err = drive(ctx, st, pop, m, conns, d/rounds, o.seed+int64(i)); err != nil {
					return 0, nil, err
				}
				rs = append(rs, r)
			}
			ratios = append(ratios, r.rps(o2)/tps)
			lines = append(lines, fmt.Sprintf("round %d: endpoint %.0f req/s, pgbench %.0f tps (%.0f%%)", i+1, r.rps(o2), tps, 100*r.rps(o2)/tps))
		}
		r := merge(rs)
		fmt.Fprintf(w, "\n## %s: endpoint vs pgbench, %d alternating rounds\n\n%s\n", title, rounds, strings.Join(lines, "\n"))
		r.print(w, "HTTP: "+title+", all rounds")
		check(title, r)
		return median(ratios), r, nil
	}

	// (a) and (b): the list ceiling and the list endpoint, at 32 and 64.
	for _, c := range []int{32, 64} {
		ratio, r, err := versus(fmt.Sprintf("list, %d connections", c), st.appURL, pipeline(pgbIdentity, pgbList), "list=100", opList, c, false)
		if err != nil {
			return err
		}
		goal := ""
		if c == 32 {
			goal = " (≥ 60%)"
		}
		ts = append(ts, target{fmt.Sprintf("list endpoint vs pgbench ceiling at %d%s", c, goal), fmt.Sprintf("median of rounds %.0f%%", 100*ratio), c != 32 || ratio >= 0.60})
		if c == 32 {
			p99 := r.stats(opList).p99
			ts = append(ts, target{"list p99 at 32 connections (≤ 25 ms)", ms(p99) + " ms", p99 <= 25*time.Millisecond})
		}
	}

	// (c): RLS overhead at the SQL level.
	overhead, detail, err := rlsOverhead(ctx, st, bypassURL, d)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n## pgbench: list under RLS (rowgate_app) vs an explicit WHERE (BYPASSRLS role), 32 clients\n\n%s\n", detail)
	ts = append(ts, target{"RLS overhead at the SQL level (≤ 5%)", fmt.Sprintf("%.1f%%", 100*overhead), overhead <= 0.05})

	// Writes against their pgbench equivalents.
	for _, wr := range []struct {
		name, mix, script string
		o                 op
	}{
		{"create", "create=100", pipeline(pgbIdentity, pgbCreate), opCreate},
		{"patch", "patch=100", pipeline(pgbIdentity, pgbPatch), opPatch},
		{"delete", "delete=100", pipeline(pgbIdentity, pgbDelete), opDelete},
	} {
		ratio, _, err := versus(wr.name+", 32 connections", st.appURL, wr.script, wr.mix, wr.o, 32, true)
		if err != nil {
			return err
		}
		ts = append(ts, target{fmt.Sprintf("%s endpoint vs pgbench (≥ 50%%)", wr.name), fmt.Sprintf("median of rounds %.0f%%", 100*ratio), ratio >= 0.50})
	}

	// The default mix, then the same with a pool of 4 shared by every user.
	mixRun := func(title string, conns int) error {
		m, err := parseMix(o.mix)
		if err != nil {
			return err
		}
		r, err := drive(ctx, st, pop, m, conns, d, o.seed)
		if err != nil {
			return err
		}
		r.print(w, title)
		check(title, r)
		return nil
	}
	if err := mixRun("default mix (80/10/5/4/1), 32 connections", 32); err != nil {
		return err
	}
	if err := st.restartServer(ctx, 4); err != nil {
		return err
	}
	if err := mixRun(fmt.Sprintf("default mix, DB_MAX_CONNS=4 shared by %d users, 64 connections", o.users), 64); err != nil {
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
	st, pop, err := openSeeded(ctx, o, 0)
	if err != nil {
		return err
	}
	defer st.close()
	w := os.Stdout
	fmt.Fprintf(w, "# rowgate list scaling\n\n%s; %d CPUs; %d users; %s per run\n", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), o.users, o.duration)
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

// explainList runs EXPLAIN ANALYZE of GET /v1/todos's first page as
// rowgate_app with an identity set, the way the API runs it.
func explainList(ctx context.Context, appURL, uid string) (string, error) {
	sql, args := personalList()
	return explainAs(ctx, appURL, uid, sql, args...)
}

// rlsOverhead runs the list transaction under RLS and with an explicit
// WHERE as a BYPASSRLS role in alternating rounds (ABBA), so that a shared
// machine's drifting speed falls on both alike. It returns 1 - rls/where.
func rlsOverhead(ctx context.Context, st *stack, bypassURL string, d time.Duration) (float64, string, error) {
	const rounds = 8
	var ratios []float64
	var lines []string
	for round := 0; round < rounds; round++ {
		order := []bool{true, false}
		if r := round % 4; r == 1 || r == 2 {
			order = []bool{false, true}
		}
		var got [2]float64
		for _, underRLS := range order {
			url, script := st.appURL, pipeline(pgbIdentity, pgbList)
			if !underRLS {
				url, script = bypassURL, pipeline(pgbIdentity, pgbListWhere)
			}
			t, err := st.pgbench(ctx, url, script, 32, d/rounds)
			if err != nil {
				return 0, "", err
			}
			if underRLS {
				got[0] = t
			} else {
				got[1] = t
			}
		}
		ratios = append(ratios, got[0]/got[1])
		lines = append(lines, fmt.Sprintf("round %d: %.0f under RLS, %.0f with WHERE (%.3f)", round+1, got[0], got[1], got[0]/got[1]))
	}
	overhead := 1 - median(ratios)
	lines = append(lines, fmt.Sprintf("median ratio %.3f: overhead %.1f%%", median(ratios), 100*overhead))
	return overhead, strings.Join(lines, "\n"), nil
}

// median of paired ratios: each round compares two runs made seconds
// apart, and the median ignores the rounds a neighbour's burst spoiled.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// runRLS measures only the RLS overhead, with both plans.
func runRLS(ctx context.Context, o options) error {
	st, pop, err := openSeeded(ctx, o, o.todos)
	if err != nil {
		return err
	}
	defer st.close()
	bypassURL, err := bypassRole(ctx, st)
	if err != nil {
		return err
	}
	overhead, detail, err := rlsOverhead(ctx, st, bypassURL, o.duration)
	if err != nil {
		return err
	}
	fmt.Println(detail)
	plan, err := explainList(ctx, st.appURL, pop.users[0].id)
	if err != nil {
		return err
	}
	fmt.Printf("\nunder RLS:\n%s\n", plan)
	if overhead > 0.05 {
		return fmt.Errorf("RLS overhead %.1f%% is over 5%%", 100*overhead)
	}
	return nil
}

// bypassRole creates the BYPASSRLS role of the comparison and returns its
// URL.
func bypassRole(ctx context.Context, st *stack) (string, error) {
	err := execSQL(ctx, st.superURL, `
		do $$ begin
		  if not exists (select from pg_roles where rolname = 'rowgate_bench_bypass') then
		    create role rowgate_bench_bypass login bypassrls;
		  end if;
		end $$;
		grant select on todos to rowgate_bench_bypass;`)
	return strings.Replace(st.appURL, "rowgate_app@", "rowgate_bench_bypass@", 1), err
}
