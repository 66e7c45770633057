package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"time"
)

// replicaConfig is how -replicas compares numbers of replicas.
type replicaConfig struct {
	configs []int         // replica counts compared, ascending; the first is the baseline
	cycles  int           // each cycle runs configs up then down: 0,1,2,2,1,0
	round   time.Duration // measured per round
	warmup  time.Duration // unmeasured load after each restart
	conns   int
	mix     mix
	seed    int64
}

// order gives the number of replicas of every round: the configurations
// up then down, once per cycle, so that a drift of the machine's speed
// that is linear over a cycle falls on every configuration alike.
func (cfg replicaConfig) order() []int {
	var out []int
	for range cfg.cycles {
		out = append(out, cfg.configs...)
		for i := len(cfg.configs) - 1; i >= 0; i-- {
			out = append(out, cfg.configs[i])
		}
	}
	return out
}

// replicaRound is one measured span against a server with some replicas.
type replicaRound struct {
	replicas int
	res      *result
	routing  routingCounts // growth over the span
}

// runReplicas boots a primary with two streaming standbys and drives the
// default mix against rowgate with 0, 1 and 2 of them as replicas, then
// measures the latency that token checks add.
func runReplicas(ctx context.Context, o options) error {
	if o.target != "" {
		return fmt.Errorf("-replicas boots its own stack and standbys; drop -target")
	}
	m, err := parseMix(o.mix)
	if err != nil {
		return err
	}
	st, pop, err := openReplicaStack(ctx, o, 2)
	if err != nil {
		return err
	}
	defer st.close()
	cycles := max(1, (o.rounds+5)/6)
	cfg := replicaConfig{configs: []int{0, 1, 2}, cycles: cycles, round: o.duration / time.Duration(6*cycles),
		warmup: o.warmup, conns: o.conns, mix: m, seed: o.seed}
	w := os.Stdout
	fmt.Fprintf(w, "# rowgate with read replicas\n\n%s; %d CPUs; %d users × %d todos; mix %s; %d connections\n\n%s\n",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), o.users, o.todos, o.mix, o.conns, replicaPreamble(runtime.NumCPU()))
	fmt.Fprintf(w, "%d rounds (cycles of 0,1,2,2,1,0 replicas: %d), each %s measured after rowgate restarts with that many replicas, "+
		"every caller is seen once and %s of unmeasured load; REPLICA_MAX_LAG and REPLICA_WAIT at their defaults; -server-env: %s\n\n",
		len(cfg.order()), cfg.cycles, cfg.round.Round(time.Millisecond), cfg.warmup, orNone(o.serverEnv.String()))
	rounds, err := replicaRounds(ctx, w, st, pop, cfg)
	if err != nil {
		return err
	}
	failed := printReplicas(w, cfg, rounds)
	tcfg := tokenConfig{conns: []int{1, 32}, cycles: 2, span: max(200*time.Millisecond, o.duration/48), warmup: 200 * time.Millisecond, seed: o.seed}
	if err := runTokenLatency(ctx, w, st, pop, tcfg); err != nil {
		return err
	}
	return failed
}

// replicaPreamble says what the comparison can and cannot show here.
func replicaPreamble(cpus int) string {
	return fmt.Sprintf("On this machine (%d CPUs) the primary, both standbys, rowgate and the load tool share the same cores, "+
		"so replicas are expected to give NO throughput gain: what this measures is the cost of routing reads "+
		"and of the read-your-writes floor checks, against 0 replicas. The standbys stream and replay every write "+
		"in every configuration (with 0 replicas too), so each carries the same replay work. "+
		"The machine is shared and noisy: only the ratios within one run mean anything, and the recorded figures are the integrator's runs.\n", cpus)
}

// openReplicaStack boots the stack with n streaming standbys, seeds it,
// and waits until the standbys have replayed the seed.
func openReplicaStack(ctx context.Context, o options, n int) (*stack, *population, error) {
	st, err := openStack(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	if err := st.startStandbys(ctx, n); err != nil {
		st.close()
		return nil, nil, err
	}
	pop, err := seed(ctx, st, o.users, o.todos)
	if err == nil {
		err = st.catchUp(ctx)
	}
	if err != nil {
		st.close()
		return nil, nil, err
	}
	return st, pop, nil
}

// replicaRounds runs every round of cfg, printing each as it ends.
func replicaRounds(ctx context.Context, w io.Writer, st *stack, pop *population, cfg replicaConfig) ([]replicaRound, error) {
	fmt.Fprintln(w, "| round | replicas | req/s | p99 ms | reads on replicas | fallbacks to the primary | errors | violations |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---|---:|---:|")
	var rounds []replicaRound
	for i, n := range cfg.order() {
		rr, err := replicaRoundOf(ctx, st, pop, cfg, n, int64(i))
		if err != nil {
			return nil, fmt.Errorf("round %d, %d replicas: %w", i+1, n, err)
		}
		rounds = append(rounds, rr)
		fmt.Fprintf(w, "| %d | %d | %.0f | %s | %.1f%% | %s | %d | %d |\n", i+1, n, throughput(rr.res), ms(rr.res.p99()),
			100*rr.routing.replicaShare(), rr.routing.fallbackText(), rr.res.errors, rr.res.violations)
	}
	return rounds, nil
}

// replicaRoundOf restarts the server with n replicas, waits until they
// are in rotation, lets every caller make a first request (a caller's
// first contact provisions it, on the primary), warms up, and measures one
// round: the mix, the CPU, and where the reads went. The warm-up's errors
// and violations count too.
func replicaRoundOf(ctx context.Context, st *stack, pop *population, cfg replicaConfig, n int, i int64) (replicaRound, error) {
	if err := st.useReplicas(ctx, n); err != nil {
		return replicaRound{}, err
	}
	if err := waitInRotation(ctx, st.base, st.standbys[:n], 30*time.Second); err != nil {
		return replicaRound{}, err
	}
	dr, err := newDriver(st, st.base, pop, cfg.mix, cfg.conns, cfg.seed+i)
	if err != nil {
		return replicaRound{}, err
	}
	defer dr.close()
	warm := merge([]*result{dr.touch(ctx), dr.run(ctx, cfg.warmup)})
	before, err := scrapeRouting(ctx, st.base)
	if err != nil {
		return replicaRound{}, err
	}
	r := measureCPU(st, func() *result { return dr.run(ctx, cfg.round) })
	after, err := scrapeRouting(ctx, st.base)
	if err != nil {
		return replicaRound{}, err
	}
	if err := ctx.Err(); err != nil {
		return replicaRound{}, err
	}
	r.absorbFailures(warm)
	return replicaRound{replicas: n, res: r, routing: after.sub(before)}, nil
}

// waitInRotation polls the server's /metrics until every one of standbys
// is a replica in rotation.
func waitInRotation(ctx context.Context, base string, standbys []*standby, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		rc, err := scrapeRouting(ctx, base)
		if err != nil {
			return err
		}
		missing := ""
		for _, s := range standbys {
			if rc.inRotation[s.name] != 1 {
				missing = s.name
			}
		}
		if missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %s not in rotation after %s", missing, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// replicaCycle is one cycle's rounds merged by configuration.
type replicaCycle map[int]*result

// replicaCycles merges the rounds of each cycle by number of replicas.
func replicaCycles(cfg replicaConfig, rounds []replicaRound) []replicaCycle {
	per := 2 * len(cfg.configs)
	var out []replicaCycle
	for i := 0; i < len(rounds); i += per {
		byN := map[int][]*result{}
		for _, rr := range rounds[i:min(i+per, len(rounds))] {
			byN[rr.replicas] = append(byN[rr.replicas], rr.res)
		}
		c := replicaCycle{}
		for n, rs := range byN {
			c[n] = merge(rs)
		}
		out = append(out, c)
	}
	return out
}

// replicaRatio is one measure of a configuration against the baseline.
type replicaRatio struct {
	name  string
	value func(*result) float64
}

var replicaRatios = []replicaRatio{
	{"req/s", throughput},
	{"list p50", func(r *result) float64 { return float64(r.stats(opList).p50) }},
	{"list p99", func(r *result) float64 { return float64(r.stats(opList).p99) }},
	{"rowgate CPU/request", func(r *result) float64 { return float64(r.cpu.server) / float64(max(1, r.total())) }},
	{"PostgreSQL CPU/request (primary + standbys)", func(r *result) float64 {
		return float64(r.cpu.primary+r.cpu.standbys) / float64(max(1, r.total()))
	}},
}

// medianRatio is the median over cycles of value(n replicas) /
// value(baseline); NaN when no cycle has both.
func medianRatio(cycles []replicaCycle, n, base int, value func(*result) float64) float64 {
	var rs []float64
	for _, c := range cycles {
		if c[n] != nil && c[base] != nil && value(c[base]) > 0 {
			rs = append(rs, value(c[n])/value(c[base]))
		}
	}
	if len(rs) == 0 {
		return math.NaN()
	}
	return median(rs)
}

// printReplicas writes every configuration's totals and the ratios
// against the baseline; it returns an error on any error or violation.
func printReplicas(w io.Writer, cfg replicaConfig, rounds []replicaRound) error {
	var errs, violations int64
	for _, n := range cfg.configs {
		var rs []*result
		var rc routingCounts
		for _, rr := range rounds {
			if rr.replicas == n {
				rs, rc = append(rs, rr.res), rc.add(rr.routing)
			}
		}
		all := merge(rs)
		errs, violations = errs+all.errors, violations+all.violations
		all.print(w, fmt.Sprintf("%s, all %d rounds", replicasName(n), len(rs)))
		if n == 0 {
			fmt.Fprintln(w, "\nreads: all on the primary (no replicas configured)")
			continue
		}
		fmt.Fprintf(w, "\nreads: primary %.0f, replicas %.0f (%.1f%% of reads on replicas); fallbacks to the primary: %s\n",
			rc.primary, rc.replicaReads(), 100*rc.replicaShare(), rc.fallbackText())
	}
	cycles := replicaCycles(cfg, rounds)
	base := cfg.configs[0]
	fmt.Fprintf(w, "\n## Against %s: the median over cycles (%d) of each cycle's ratio\n\n| replicas |", replicasName(base), len(cycles))
	for _, r := range replicaRatios {
		fmt.Fprintf(w, " %s |", r.name)
	}
	fmt.Fprint(w, "\n|---:|")
	fmt.Fprint(w, strings.Repeat("---:|", len(replicaRatios)), "\n")
	for _, n := range cfg.configs[1:] {
		fmt.Fprintf(w, "| %d |", n)
		for _, r := range replicaRatios {
			fmt.Fprintf(w, " %.3f |", medianRatio(cycles, n, base, r.value))
		}
		fmt.Fprintln(w)
	}
	if errs+violations > 0 {
		return fmt.Errorf("replicas: %d errors and %d isolation violations", errs, violations)
	}
	return nil
}

func replicasName(n int) string {
	if n == 1 {
		return "1 replica"
	}
	return fmt.Sprintf("%d replicas", n)
}
