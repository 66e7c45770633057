package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate/internal/migrate"
	"github.com/rowgate/rowgate/internal/pgtest"
	"github.com/rowgate/rowgate/internal/postgres"
	"github.com/rowgate/rowgate/internal/todo"
)

// The -orgs population: one user in orgCount organizations of orgTodos
// todos each, with orgTodos personal todos of their own, in a table of
// orgTableRows todos in all (the rest belong to other users and other
// organizations). Every row of the user's lists is spread over the whole
// table the same way (one row in every thousand, interleaved in time), so
// neither list gets a better heap layout than the other.
const (
	orgCount     = 20
	orgTodos     = 1000
	orgTableRows = 1_000_000
	orgOthers    = 999 // other users, members of other organizations
	orgUser      = "loadorgmember0000000000000000000"
	// maxOrgP99Ratio is the target: an organization's list p99
	// within 20% of the personal list's.
	maxOrgP99Ratio = 1.2
)

// orgID names organization i; the user is a member of 0..orgCount-1.
func orgID(i int) string { return fmt.Sprintf("loadorg%025d", i) }

// runOrgs measures GET /v1/todos?organization_id=… (one of the user's
// organizations) against GET /v1/todos (their personal todos) in
// alternating rounds, and checks the organization's p99 is within
// maxOrgP99Ratio of the personal one.
func runOrgs(ctx context.Context, o options) error {
	if o.target != "" {
		return fmt.Errorf("-orgs boots its own stack (it creates Better Auth's tables); drop -target")
	}
	// Every connection is the same user: the per-user limit would measure
	// itself.
	o.serverEnv = append(o.serverEnv, "RATE_LIMIT_RPS=0")
	st, err := openStack(ctx, o)
	if err != nil {
		return err
	}
	defer st.close()
	if err := seedOrgs(ctx, st); err != nil {
		return err
	}
	token, err := st.key.Mint(todo.Caller{ID: orgUser}, issuer, audience, 3*time.Hour)
	if err != nil {
		return err
	}
	w := os.Stdout
	fmt.Fprintf(w, "# rowgate organization lists\n\n%s; %d CPUs; %d todos, a user in %d organizations of %d todos and with %d of their own; %d connections; %s per side\n",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), orgTableRows, orgCount, orgTodos, orgTodos, o.conns, o.duration)
	for _, l := range orgLists() {
		plan, err := explainAs(ctx, st.appURL, orgUser, l.sql, l.args...)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\n%s:\n```\n%s\n```\n", l.name, plan)
	}
	return orgRounds(ctx, st, "Bearer "+token, o)
}

// orgList is one of the two lists compared.
type orgList struct {
	name, path string
	sql        string
	args       []any
	// marker appears once per todo of a correct answer.
	marker []byte
}

func orgLists() []orgList {
	org := orgID(0)
	personal, pargs := personalList()
	shared, sargs := postgres.ListStatement(todo.ListQuery{Limit: todo.DefaultLimit, OrganizationID: &org})
	return []orgList{
		{name: "personal", path: "/v1/todos", sql: personal, args: pargs,
			marker: []byte(`"user_id":"` + orgUser + `","organization_id":null`)},
		{name: "organization", path: "/v1/todos?organization_id=" + org, sql: shared, args: sargs,
			marker: []byte(`"organization_id":"` + org + `"`)},
	}
}

// seedOrgs gives the stack Better Auth's organization tables, runs migrate
// again (as an operator does after Better Auth created them), and writes
// the population as the superuser: a fast path around the policies, which
// the personal seed goes through.
func seedOrgs(ctx context.Context, st *stack) error {
	start := time.Now()
	if err := execSQL(ctx, st.superURL, pgtest.BetterAuthOrganizationTables(owner)); err != nil {
		return err
	}
	if err := migrate.Run(ctx, st.cluster.URL(owner, dbName), migrate.Options{}); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, st.superURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, step := range []struct {
		sql  string
		args []any
	}{
		{`insert into better_auth.organization (id, name, slug, "createdAt")
		  select 'loadorg' || lpad(g::text, 25, '0'), 'Organization ' || g, 'org-' || g, now() from generate_series(0, 499) g`, nil},
		{`insert into better_auth.member (id, "organizationId", "userId", role, "createdAt")
		  select 'm' || g, 'loadorg' || lpad(g::text, 25, '0'), $1, case when g = 0 then 'owner' else 'member' end, now()
		  from generate_series(0, $2::int - 1) g`, []any{orgUser, orgCount}},
		{`insert into users (id) select $1 union all select 'loadother' || lpad(g::text, 23, '0') from generate_series(1, $2::int) g`, []any{orgUser, orgOthers}},
		{`insert into better_auth.member (id, "organizationId", "userId", role, "createdAt")
		  select 'o' || g, 'loadorg' || lpad((g % 500)::text, 25, '0'), 'loadother' || lpad((g % $1::int + 1)::text, 23, '0'), 'member', now()
		  from generate_series(1, 3 * $1::int) g`, []any{orgOthers}},
		// Row g: every 1000th (g % 1000 = 0) is the user's own; every
		// 50th, offset by 25, is one of the user's organizations' (each of
		// the 20 gets one row in every thousand), a tenth of them created
		// by the user; the rest are other users' personal todos and other
		// organizations' todos.
		{`insert into todos (user_id, organization_id, title, description, completed, created_at, updated_at)
		  select case when g % 1000 = 0 or (g % 50 = 25 and g / 1000 % 10 = 0) then $1
		              else 'loadother' || lpad((g % $2::int + 1)::text, 23, '0') end,
		         case when g % 1000 = 0 then null
		              when g % 50 = 25 then 'loadorg' || lpad((g / 50 % $3::int)::text, 25, '0')
		              when g % 2 = 0 then 'loadorg' || lpad((20 + g % 480)::text, 25, '0') end,
		         'todo ' || g, case when g % 3 = 0 then 'details of todo ' || g end, g % 4 = 0,
		         now() - g * interval '1 second', now() - g * interval '1 second'
		  from generate_series(1, $4::int) g`, []any{orgUser, orgOthers, orgCount, orgTableRows}},
		{`vacuum analyze todos`, nil},
	} {
		if _, err := conn.Exec(ctx, step.sql, step.args...); err != nil {
			return fmt.Errorf("seed organizations: %w", err)
		}
	}
	var own, shared int
	err = conn.QueryRow(ctx, `select count(*) filter (where organization_id is null and user_id = $1),
		count(*) filter (where organization_id = $2) from todos`, orgUser, orgID(0)).Scan(&own, &shared)
	if err != nil || own != orgTodos || shared != orgTodos {
		return fmt.Errorf("seed organizations: the user has %d todos and organization 0 %d, want %d each (%v)", own, shared, orgTodos, err)
	}
	fmt.Fprintf(os.Stderr, "load: seeded %d todos, %d organizations in %s\n", orgTableRows, 500, time.Since(start).Round(time.Millisecond))
	return nil
}

// explainAs runs EXPLAIN ANALYZE of sql as rowgate_app with identity uid.
func explainAs(ctx context.Context, appURL, uid, sql string, args ...any) (string, error) {
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
	rows, err := tx.Query(ctx, "explain (analyze, buffers, costs off, timing off, summary off) "+sql, args...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}

// orgRounds drives the two lists in alternating rounds (ABBA), so a shared
// machine's drifting speed falls on both alike, then reports each side's
// latency over all rounds, the median of the rounds' p99 ratios, and the
// verdict.
func orgRounds(ctx context.Context, st *stack, bearer string, o options) error {
	rounds := o.rounds
	lists := orgLists()
	var sides [2][]*result
	var ratios []float64
	w := os.Stdout
	fmt.Fprintf(w, "\n## %d alternating rounds (ABBA), %s per side per round\n\n| round | personal req/s | personal p99 ms | organization req/s | organization p99 ms | p99 org/personal |\n|---:|---:|---:|---:|---:|---:|\n", rounds, o.duration/time.Duration(rounds))
	for i := 0; i < rounds; i++ {
		order := []int{0, 1}
		if r := i % 4; r == 1 || r == 2 {
			order = []int{1, 0}
		}
		var got [2]*result
		for _, side := range order {
			got[side] = driveList(ctx, st, bearer, lists[side], o.conns, o.duration/time.Duration(rounds))
			sides[side] = append(sides[side], got[side])
		}
		p, g := got[0].stats(opList), got[1].stats(opList)
		ratio := float64(g.p99) / float64(p.p99)
		ratios = append(ratios, ratio)
		fmt.Fprintf(w, "| %d | %.0f | %s | %.0f | %s | %.2f |\n", i+1, p.rps, ms(p.p99), g.rps, ms(g.p99), ratio)
	}
	all := [2]*result{merge(sides[0]), merge(sides[1])}
	for i, l := range lists {
		all[i].print(w, fmt.Sprintf("GET %s, all rounds", l.path))
	}
	p, g := all[0].stats(opList), all[1].stats(opList)
	med := median(ratios)
	fmt.Fprintf(w, "\np99 organization/personal: median of rounds %.2f, over all rounds %.2f (%s / %s ms); req/s organization/personal %.2f\n",
		med, float64(g.p99)/float64(p.p99), ms(g.p99), ms(p.p99), g.rps/p.rps)
	errs := all[0].errors + all[1].errors + all[0].violations + all[1].violations
	return verdict(w, []target{
		{fmt.Sprintf("organization list p99 within %.0f%% of the personal list's", 100*(maxOrgP99Ratio-1)), fmt.Sprintf("median ratio %.2f", med), med <= maxOrgP99Ratio},
		{"errors and wrong answers", fmt.Sprint(errs), errs == 0},
	})
}

// driveList sends GET l.path as one user on conns connections for d and
// checks every answer: 200, and exactly as many todos of the right list as
// the page holds (20).
func driveList(ctx context.Context, st *stack, bearer string, l orgList, conns int, d time.Duration) *result {
	res := &result{conns: conns}
	deadline := time.Now().Add(d)
	stopRSS := sampleRSS(st, &res.rssPeak)
	defer stopRSS()
	start := time.Now()
	var wg sync.WaitGroup
	lats := make([][]time.Duration, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cn := newConn(st.base)
			defer cn.close()
			var body bytes.Buffer
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				status, err := cn.do(ctx, "GET", l.path, bearer, "", &body)
				lats[i] = append(lats[i], time.Since(t0))
				checkList(res, l, status, err, body.Bytes())
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	for _, l := range lats {
		res.lat[opList] = append(res.lat[opList], l...)
	}
	return res
}

var todoKey = []byte(`"id":"`)

func checkList(res *result, l orgList, status int, err error, body []byte) {
	var msg string
	switch {
	case err != nil:
		msg = err.Error()
	case status != 200:
		msg = fmt.Sprintf("status %d: %s", status, snippet(body))
	default:
		n, right := bytes.Count(body, todoKey), bytes.Count(body, l.marker)
		if n == todo.DefaultLimit && right == n {
			return
		}
		msg = fmt.Sprintf("%d todos, %d of them of the %s list: %s", n, right, l.name, snippet(body))
	}
	res.mu.Lock()
	defer res.mu.Unlock()
	res.errors++
	if len(res.errorSamples) < 10 {
		res.errorSamples = append(res.errorSamples, l.name+": "+msg)
	}
}
