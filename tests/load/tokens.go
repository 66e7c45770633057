package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// tokenConfig is how the token benchmark runs.
type tokenConfig struct {
	conns  []int         // one set of rounds per number of connections
	cycles int           // each cycle runs the arms forth and back: A B C C B A
	span   time.Duration // measured per arm per turn
	warmup time.Duration // unmeasured pairs before every measured span
	seed   int64
}

// tokenArm is where a caller's list goes after its create, and whether it
// carries the create's Consistency-Token.
type tokenArm struct {
	name       string
	echo       bool
	sameServer bool // the list goes to the rowgate process the create went to
}

// The arms. The baseline is a list at another rowgate process without a
// token: that process knows nothing of the caller's write, so the list
// goes to a replica with no floor check (and may miss the write: stale).
// With the token it is routed by the token's floor. The third arm is the
// list at the same process without a token, which routes by the floor it
// remembers.
var tokenArms = []tokenArm{
	{"other instance, no token", false, false},
	{"other instance, token echoed", true, false},
	{"same instance, no token", false, true},
}

// tokenOrder gives the arm of every span: forth and back, once per cycle.
func (cfg tokenConfig) order() []int {
	var out []int
	for range cfg.cycles {
		for i := range tokenArms {
			out = append(out, i)
		}
		for i := len(tokenArms) - 1; i >= 0; i-- {
			out = append(out, i)
		}
	}
	return out
}

// tokenResult is what one arm measured at one number of connections, over
// all its spans.
type tokenResult struct {
	res     *result
	routing routingCounts // of the server that answered the lists
}

// runTokenLatency measures the latency that token checks add: callers
// create a todo through rowgate A (the stack's server, restarted with one
// replica) and at once list their todos through a second rowgate process
// B with the same replica, with and without the create's token, and
// through A itself.
func runTokenLatency(ctx context.Context, w io.Writer, st *stack, pop *population, cfg tokenConfig) error {
	if err := st.useReplicas(ctx, 1); err != nil {
		return err
	}
	other, err := st.startProc(ctx, st.bin, st.o.dbMaxConns) // the same environment: one replica
	if err != nil {
		return err
	}
	defer other.stop()
	for _, base := range []string{st.base, other.base} {
		if err := waitInRotation(ctx, base, st.standbys[:1], 30*time.Second); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\n## The latency token checks add: create, then list at once (1 replica, replay live)\n\n"+
		"Each caller creates a todo through rowgate A, then lists its todos (the new todo must come first). "+
		"The list goes to a second rowgate process B, without a token (B knows nothing of the write: "+
		"it reads a replica with no floor check, and may miss the write: a stale list) or with the create's "+
		"Consistency-Token (B routes by its floor); or to A without a token (A remembers the floor). "+
		"The arms alternate A B C C B A (cycles: %d), in spans of %s, each after %s of unmeasured pairs. "+
		"At 1 connection a list's latency is the cost of the check itself; at many, each caller's create and list form a closed loop "+
		"over two processes, and the queue forms where the time goes (a list that waits lets A's creates through): "+
		"read them as what a busy client sees.\n\n", cfg.cycles, cfg.span.Round(time.Millisecond), cfg.warmup)
	fmt.Fprintln(w, "| connections | list | lists | p50 ms | p99 ms | mean ms | stale lists | lists on the replica | fallbacks to the primary | create p50 ms |")
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|---:|---:|---:|---|---:|")
	var diffs []string
	var errs, violations int64
	for _, conns := range cfg.conns {
		got, err := tokenRounds(ctx, st, pop, other, conns, cfg)
		if err != nil {
			return fmt.Errorf("token benchmark, %d connections: %w", conns, err)
		}
		for i, arm := range tokenArms {
			r := got[i]
			list := r.res.stats(opList)
			fmt.Fprintf(w, "| %d | %s | %d | %s | %s | %s | %d | %.1f%% | %s | %s |\n", conns, arm.name, list.count, ms(list.p50), ms(list.p99),
				ms(r.res.mean(opList)), r.res.stale, 100*r.routing.replicaShare(), r.routing.fallbackText(), ms(r.res.stats(opCreate).p50))
			errs, violations = errs+r.res.errors, violations+r.res.violations
			for _, e := range r.res.errorSamples {
				diffs = append(diffs, fmt.Sprintf("  error (%d connections, %s): %s", conns, arm.name, e))
			}
			for _, v := range r.res.violationSamples {
				diffs = append(diffs, fmt.Sprintf("  VIOLATION (%d connections, %s): %s", conns, arm.name, v))
			}
		}
		diffs = append(diffs, tokenDifference(conns, got))
	}
	fmt.Fprintln(w)
	for _, d := range diffs {
		fmt.Fprintln(w, d)
	}
	if errs+violations > 0 {
		return fmt.Errorf("token benchmark: %d errors (stale lists with a floor count as errors) and %d isolation violations", errs, violations)
	}
	return nil
}

// tokenDifference says what the token added to the list, and what the
// remembered floor adds in one process.
func tokenDifference(conns int, got []tokenResult) string {
	base, token, same := got[0].res.stats(opList), got[1].res.stats(opList), got[2].res.stats(opList)
	baseMean, tokenMean, sameMean := got[0].res.mean(opList), got[1].res.mean(opList), got[2].res.mean(opList)
	return fmt.Sprintf("at %d connection(s), token echoed − no token: p50 %+.2f ms, p99 %+.2f ms, mean %+.2f ms; "+
		"same instance − other instance without token: p50 %+.2f ms, p99 %+.2f ms, mean %+.2f ms",
		conns, msf(token.p50-base.p50), msf(token.p99-base.p99), msf(tokenMean-baseMean),
		msf(same.p50-base.p50), msf(same.p99-base.p99), msf(sameMean-baseMean))
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// tokenRounds runs the arms' spans at conns connections and merges each
// arm's.
func tokenRounds(ctx context.Context, st *stack, pop *population, other *proc, conns int, cfg tokenConfig) ([]tokenResult, error) {
	drivers := make([]*driver, len(tokenArms))
	defer func() {
		for _, dr := range drivers {
			if dr != nil {
				dr.close()
			}
		}
	}()
	touched := map[bool]bool{} // by sameServer: each reading server sees every caller once
	for i, arm := range tokenArms {
		opts := clientOptions{base: st.base, readBase: other.base, echoToken: arm.echo}
		if arm.sameServer {
			opts.readBase = ""
		}
		dr, err := newClientDriver(st, opts, pop, mix{}, conns, cfg.seed+int64(i))
		if err != nil {
			return nil, err
		}
		drivers[i] = dr
		if touched[arm.sameServer] {
			continue
		}
		touched[arm.sameServer] = true
		if warm := dr.touch(ctx); warm.errors+warm.violations > 0 {
			return nil, fmt.Errorf("first contact: %v %v", warm.errorSamples, warm.violationSamples)
		}
	}
	spans := make([][]*result, len(tokenArms))
	routing := make([]routingCounts, len(tokenArms))
	for _, a := range cfg.order() {
		reader := other.base
		if tokenArms[a].sameServer {
			reader = st.base
		}
		r, rc, err := tokenSpan(ctx, drivers[a], reader, cfg)
		if err != nil {
			return nil, err
		}
		spans[a], routing[a] = append(spans[a], r), routing[a].add(rc)
	}
	out := make([]tokenResult, len(tokenArms))
	for i := range out {
		out[i] = tokenResult{res: merge(spans[i]), routing: routing[i]}
	}
	return out, nil
}

// tokenSpan warms up, then measures one span of pairs, with the reads of
// the server that answers the lists.
func tokenSpan(ctx context.Context, dr *driver, reader string, cfg tokenConfig) (*result, routingCounts, error) {
	warm := dr.runPairs(ctx, cfg.warmup)
	before, err := scrapeRouting(ctx, reader)
	if err != nil {
		return nil, routingCounts{}, err
	}
	r := dr.runPairs(ctx, cfg.span)
	after, err := scrapeRouting(ctx, reader)
	if err != nil {
		return nil, routingCounts{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, routingCounts{}, err
	}
	r.absorbFailures(warm) // a stale list with a floor is an error, in the warm-up too
	return r, after.sub(before), nil
}
