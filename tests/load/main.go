// Command load drives rowgate's HTTP API hard and checks every response:
// the status is the one expected, and every todo in it belongs to the
// caller. It reports req/s, p50/p90/p99 latency per operation, errors,
// isolation violations, which must be 0, and the CPU per request of the
// server and of PostgreSQL.
//
//	go run ./tests/load                       # own stack, default mix, 20s
//	go run ./tests/load -bench                # the docs/benchmarks.md suite
//	go run ./tests/load -scale                # list latency at 100k, 1M, 10M todos
//	go run ./tests/load -orgs                 # an organization's list vs the personal list, at 1M todos
//	go run ./tests/load -compare eea86dd      # list throughput: this checkout vs a revision
//	go run ./tests/load -soak -duration 10m   # resources flat under the default mix
//	go run ./tests/load -replicas             # 0, 1 and 2 streaming replicas; token latency
//	go run ./tests/load -target http://127.0.0.1:8080 -database-url … -key-dir …
//
// By default it boots everything itself on loopback: a throwaway PostgreSQL,
// migrations, and `rowgate serve` built from this checkout and run as a
// separate process (so its memory can be measured). It mints tokens for N
// users with the development key and seeds each with M todos, as each user,
// through the row level security policies.
//
// Every run's report gives the CPU per request, from utime+stime in
// /proc/<pid>/stat sampled before and after the span: of the server
// process, of the cluster's PostgreSQL processes (the postmaster, named
// by line 1 of postmaster.pid, its live children, and through its cutime
// and cstime the children it has reaped), and of the standbys' with
// -replicas; each also as requests per second per core (1e6 / µs). The
// load tool's own CPU is not counted. -echo-token makes every simulated
// user send the Consistency-Token of its last write with its reads.
//
// -compare REV builds `rowgate` at git revision REV (git archive into a
// temporary folder, removed afterwards) and from this checkout, starts both
// against the same seeded database (migrated by this checkout), and drives
// them one at a time in -rounds alternating rounds (ABBA: old new, new old,
// new old, old new, …; default 40). Each measured span, -duration/-rounds
// long (default -duration 40s: 1s), follows -warmup (200ms) of unmeasured
// load on the same side; each side is also warmed up once for 4× -warmup
// after it starts. Both sides replay the same request sequence. The default
// mix is list=100 at 32 connections. It prints each round's req/s, p99,
// server CPU per request and new/old ratios, then the verdict line
// "list throughput new/old = 0.973 (limit 0.95)" (the median of the rounds'
// ratios) with a 95% confidence interval taken over whole ABBA cycles of
// four rounds (a linear drift cancels within one, and neighbouring rounds
// share the machine's load), and exits 1 when the median is under
// -min-ratio, or on any error or isolation violation. When the interval
// contains the limit it says the run is inconclusive: with fewer than
// about 16 cycles the interval is their whole range, so a decision on a
// busy machine wants e.g. -duration 2m -rounds 120. The server CPU per
// request (from /proc, PostgreSQL not included) is printed for information.
// Only ratios within one run mean anything on a shared machine. With
// -compare-schemas each side runs on its own database, migrated by its own
// binary and holding the same rows (copied, ids included): the way to
// compare across a change to sql/ or rls/, where the old binary's
// statements on the new schema are no measure of the old release (read-only
// mixes only, so both databases stay alike). Both binaries get the same environment, -server-env included:
// when the newer one adds a setting whose default would change the load (a
// per-user rate limit), pass e.g. -server-env RATE_LIMIT_RPS=0 to compare
// the request path alone (old binaries ignore names they do not know).
//
// -orgs gives its own stack Better Auth's organization tables (and runs
// migrate again, as an operator does), seeds 1M todos as the superuser (a
// user in 20 organizations of 1,000 todos, with 1,000 of their own, each
// list one row in every thousand of the table), prints both lists' plans,
// and drives GET /v1/todos?organization_id=… and GET /v1/todos as that user
// in 8 alternating rounds (-rounds, a multiple of 4) over -duration per
// side (default 40s), with the per-user rate limit off. It prints each round's req/s and
// p99 and exits 1 when the median of the rounds' p99 ratios
// organization/personal is over 1.2, or on any wrong answer.
//
// -soak drives -mix (the default mix) for -duration (default 30m) on kept-
// alive connections, and every -interval (10s) records the server's RSS
// (/proc/<pid>/status), goroutines (go_goroutines), open files
// (process_open_fds) and pool connections (rowgate_db_pool_total_conns),
// read from /metrics, with the interval's req/s and p99. After -warmup
// (default the lesser of 2m and a fifth of -duration) each of the four must
// be flat: the median of the last quarter of the samples is less than
// -max-growth (5%) above the median of the first quarter; the maximum is
// reported too. It prints the samples and the verdict, and exits 1 when a
// series grew, or on any error or isolation violation. Req/s and p99 are
// shown, not judged: the machine is shared.
//
// -replicas boots the primary with two streaming standbys (pg_basebackup
// -R, the primary's settings, except that commits are synchronous, fsync
// still off: with asynchronous commit WAL reaches a standby only when the
// WAL writer wakes, every 200 ms, so every read after a write would wait
// out REPLICA_WAIT), seeds, and waits for the standbys to replay the seed.
// It then drives -mix at -conns against `rowgate serve` restarted with
// 0, 1 and 2 of them in DATABASE_REPLICA_URLS, in -rounds rounds (default
// 18) in cycles of 0,1,2,2,1,0; each round is -duration/-rounds (default
// -duration 60s: 3.3s) measured after the restart, once the replicas are
// in rotation, every caller has made a first request (which provisions
// it on the primary) and -warmup (1s) of unmeasured load. Per
// configuration it prints req/s and latency per operation, the share of
// reads the replicas served and the fallbacks to the primary by reason
// (from /metrics), the CPU per request of rowgate, the primary and the
// standbys, and the ratios against 0 replicas (median over cycles). Then
// the latency that token checks add, with one replica: callers create a
// todo through one rowgate process and list at once through a second one,
// without and with the create's Consistency-Token, and through the first
// one, at 1 and 32 connections, in spans of -duration/48 alternating the
// arms; it prints list p50/p99 per arm, stale lists, and the differences.
// On 2 cores replicas cannot add throughput (the standbys share the
// cores): the mode measures the cost of routing and of the floor checks.
// It exits 1 on any error, isolation violation, or stale list where the
// caller's floor was known.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

type options struct {
	users, todos, conns int
	duration            time.Duration
	mix                 string
	target, databaseURL string
	keyDir              string
	dbMaxConns          int
	bench, scale, rls   bool
	orgs                bool
	pprof               string
	seed                int64
	cpuProfile          string
	unix                bool
	serverEnv           envList

	echoToken      bool          // users send their last write's Consistency-Token with reads
	replicas       bool          // -replicas
	compare        string        // -compare: the git revision to compare against
	compareSchemas bool          // -compare: each side on a database of its own schema
	rounds         int           // -compare, -replicas: alternating rounds
	minRatio       float64       // -compare: least median new/old throughput
	soak           bool          // -soak
	interval       time.Duration // -soak: one sample per interval
	maxGrowth      float64       // -soak: a series must grow by less than this
	warmup         time.Duration // -compare: before each measured span; -replicas: after each restart; -soak: before judging
}

// envList collects repeated -server-env NAME=value flags.
type envList []string

func (e *envList) String() string     { return strings.Join(*e, " ") }
func (e *envList) Set(v string) error { *e = append(*e, v); return nil }

func main() {
	var o options
	flag.IntVar(&o.users, "users", 1000, "users to mint tokens for")
	flag.IntVar(&o.todos, "todos", 100, "todos seeded per user (1000 users × 1000 = 1M)")
	flag.IntVar(&o.conns, "conns", 32, "concurrent HTTP connections")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "how long to drive the API (-compare: 40s, measured per side over all rounds; -soak: 30m)")
	flag.StringVar(&o.mix, "mix", "list=80,get=10,create=5,patch=4,delete=1", "operation mix, in percent")
	flag.StringVar(&o.target, "target", "", "base URL of a running rowgate on loopback; empty boots its own stack")
	flag.StringVar(&o.databaseURL, "database-url", "", "with -target: rowgate_app URL of its database, for seeding")
	flag.StringVar(&o.keyDir, "key-dir", "", "with -target: the development key folder the server trusts (its AUTH_JWKS_FILE)")
	flag.IntVar(&o.dbMaxConns, "db-max-conns", 0, "own stack: the server's pool size (DB_MAX_CONNS); 0 = its default")
	flag.BoolVar(&o.bench, "bench", false, "run the benchmark suite of docs/benchmarks.md and check its targets")
	flag.BoolVar(&o.scale, "scale", false, "measure list latency at 100k, 1M and 10M todos, with the query plan")
	flag.BoolVar(&o.rls, "rls", false, "measure only the RLS overhead at the SQL level (pgbench, RLS vs explicit WHERE)")
	flag.BoolVar(&o.orgs, "orgs", false, "list one organization's todos against the personal list, for a user in 20 organizations of 1,000 todos (1M todos in all); p99 ratio ≤ 1.2")
	flag.StringVar(&o.pprof, "pprof", "", "own stack: serve the server's pprof on this loopback address")
	flag.Int64Var(&o.seed, "seed", 1, "random seed of the operation sequence")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write the load tool's own CPU profile here")
	flag.BoolVar(&o.unix, "unix", false, "own stack: serve HTTP on a unix socket instead of 127.0.0.1")
	flag.Var(&o.serverEnv, "server-env", "own stack: NAME=value for the server's environment (repeatable), e.g. GOGC=200; with -compare, for both binaries")
	flag.BoolVar(&o.echoToken, "echo-token", false, "each user sends the Consistency-Token of its last write with its reads")
	flag.BoolVar(&o.replicas, "replicas", false, "the default mix against rowgate with 0, 1 and 2 streaming replicas, and the latency token checks add")
	flag.StringVar(&o.compare, "compare", "", "compare list throughput of this checkout (new) against rowgate built at this git revision (old)")
	flag.BoolVar(&o.compareSchemas, "compare-schemas", false, "-compare: run each side on its own database, migrated by its own binary, with the same rows (for a change to sql/ or rls/; read-only mixes)")
	flag.IntVar(&o.rounds, "rounds", 40, "-compare: alternating rounds (ABBA); each side is measured -duration/-rounds per round; -replicas: rounds (default 18), in cycles of 0,1,2,2,1,0 replicas")
	flag.Float64Var(&o.minRatio, "min-ratio", 0.95, "-compare: fail when the median new/old throughput ratio is below this")
	flag.BoolVar(&o.soak, "soak", false, "drive -mix for -duration and check the server's RSS, goroutines, open files and pool stay flat")
	flag.DurationVar(&o.interval, "interval", 10*time.Second, "-soak: how often to sample the server")
	flag.Float64Var(&o.maxGrowth, "max-growth", 0.05, "-soak: fail when a series grows by this much or more after warm-up")
	flag.DurationVar(&o.warmup, "warmup", 0, "-compare: unmeasured load before each measured span (default 200ms; 4× that once after start); -replicas: after each restart (default 1s); -soak: samples not judged (default min(2m, duration/5))")
	flag.Parse()
	if err := modeDefaults(&o, explicitFlags()); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case o.bench:
		err = runBench(ctx, o)
	case o.scale:
		err = runScale(ctx, o)
	case o.rls:
		err = runRLS(ctx, o)
	case o.orgs:
		err = runOrgs(ctx, o)
	case o.compare != "":
		err = runCompare(ctx, o)
	case o.soak:
		err = runSoak(ctx, o)
	case o.replicas:
		err = runReplicas(ctx, o)
	default:
		err = runOnce(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// explicitFlags returns the names of the flags given on the command line.
func explicitFlags() map[string]bool {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// modeDefaults fills in the defaults that depend on the mode, for flags not
// given, and refuses two modes at once.
func modeDefaults(o *options, set map[string]bool) error {
	modes := 0
	for _, on := range []bool{o.bench, o.scale, o.rls, o.orgs, o.compare != "", o.soak, o.replicas} {
		if on {
			modes++
		}
	}
	if modes > 1 {
		return fmt.Errorf("-bench, -scale, -rls, -orgs, -compare, -soak and -replicas are separate runs: choose one")
	}
	switch {
	case o.compare != "":
		if !set["mix"] {
			o.mix = "list=100"
		}
		if !set["duration"] {
			o.duration = 40 * time.Second
		}
		if !set["warmup"] {
			o.warmup = 200 * time.Millisecond
		}
	case o.replicas:
		if !set["duration"] {
			o.duration = 60 * time.Second
		}
		if !set["rounds"] {
			o.rounds = 18
		}
		if !set["warmup"] {
			o.warmup = time.Second
		}
	case o.orgs:
		if !set["rounds"] {
			o.rounds = 8
		}
		if !set["duration"] {
			o.duration = 40 * time.Second
		}
		if o.rounds <= 0 || o.rounds%4 != 0 {
			return fmt.Errorf("-orgs: -rounds must be a positive multiple of 4 (ABBA cycles), got %d", o.rounds)
		}
	case o.soak:
		if !set["duration"] {
			o.duration = 30 * time.Minute
		}
		if !set["warmup"] {
			o.warmup = min(2*time.Minute, o.duration/5)
		}
	}
	return nil
}

// runOnce seeds and drives the API once with the chosen mix.
func runOnce(ctx context.Context, o options) error {
	st, pop, err := openSeeded(ctx, o, o.todos)
	if err != nil {
		return err
	}
	defer st.close()
	mix, err := parseMix(o.mix)
	if err != nil {
		return err
	}
	res, err := drive(ctx, st, pop, mix, o.conns, o.duration, o.seed)
	if err != nil {
		return err
	}
	res.print(os.Stdout, fmt.Sprintf("%d users × %d todos, %d connections, %s, mix %s", o.users, o.todos, o.conns, o.duration, o.mix))
	if res.violations > 0 || res.errors > 0 {
		return fmt.Errorf("%d isolation violations, %d errors", res.violations, res.errors)
	}
	return nil
}
