// Command load drives rowgate's HTTP API hard and checks every response:
// the status is the one expected, and every todo in it belongs to the
// caller. It reports req/s, p50/p90/p99 latency per operation, errors, and
// isolation violations, which must be 0.
//
//	go run ./tests/load                       # own stack, default mix, 20s
//	go run ./tests/load -bench                # the docs/benchmarks.md suite
//	go run ./tests/load -scale                # list latency at 100k, 1M, 10M todos
//	go run ./tests/load -target http://127.0.0.1:8080 -database-url … -key-dir …
//
// By default it boots everything itself on loopback: a throwaway PostgreSQL,
// migrations, and `rowgate serve` built from this checkout and run as a
// separate process (so its memory can be measured). It mints tokens for N
// users with the development key and seeds each with M todos, as each user,
// through the row level security policies.
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
	pprof               string
	seed                int64
	cpuProfile          string
	unix                bool
	serverEnv           envList
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
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "how long to drive the API")
	flag.StringVar(&o.mix, "mix", "list=80,get=10,create=5,patch=4,delete=1", "operation mix, in percent")
	flag.StringVar(&o.target, "target", "", "base URL of a running rowgate on loopback; empty boots its own stack")
	flag.StringVar(&o.databaseURL, "database-url", "", "with -target: rowgate_app URL of its database, for seeding")
	flag.StringVar(&o.keyDir, "key-dir", "", "with -target: the development key folder the server trusts (its AUTH_JWKS_FILE)")
	flag.IntVar(&o.dbMaxConns, "db-max-conns", 0, "own stack: the server's pool size (DB_MAX_CONNS); 0 = its default")
	flag.BoolVar(&o.bench, "bench", false, "run the benchmark suite of docs/benchmarks.md and check its targets")
	flag.BoolVar(&o.scale, "scale", false, "measure list latency at 100k, 1M and 10M todos, with the query plan")
	flag.BoolVar(&o.rls, "rls", false, "measure only the RLS overhead at the SQL level (pgbench, RLS vs explicit WHERE)")
	flag.StringVar(&o.pprof, "pprof", "", "own stack: serve the server's pprof on this loopback address")
	flag.Int64Var(&o.seed, "seed", 1, "random seed of the operation sequence")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write the load tool's own CPU profile here")
	flag.BoolVar(&o.unix, "unix", false, "own stack: serve HTTP on a unix socket instead of 127.0.0.1")
	flag.Var(&o.serverEnv, "server-env", "own stack: NAME=value for the server's environment (repeatable), e.g. GOGC=200")
	flag.Parse()
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
	default:
		err = runOnce(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
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
