package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestLoadSmoke runs the load tool end to end, briefly: its own stack,
// seeding through the policies, every operation of the default mix and the
// cross-user probes, with a pool of 4 connections shared by every user. Any
// isolation violation or unexpected status fails it.
func TestLoadSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("boots PostgreSQL and builds rowgate")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// 64 users at full speed make about 60 requests a second each, over
	// serve's default per-user limit: the smoke test is about isolation,
	// so it turns the limit off (the limit has its own tests). The cluster
	// commits synchronously, as -replicas's does, for the Replicas subtest.
	o := options{users: 64, todos: 20, conns: 16, duration: 3 * time.Second, dbMaxConns: 4, replicas: true,
		mix: "list=80,get=10,create=5,patch=4,delete=1", seed: 1, serverEnv: envList{"RATE_LIMIT_RPS=0"}}
	st, pop, err := openSeeded(ctx, o, o.todos)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	m, _ := parseMix(o.mix)
	res, err := drive(ctx, st, pop, m, o.conns, o.duration, o.seed)
	if err != nil {
		t.Fatal(err)
	}
	if res.violations != 0 || res.errors != 0 {
		t.Fatalf("%d violations %v, %d errors %v", res.violations, res.violationSamples, res.errors, res.errorSamples)
	}
	for _, op := range []op{opList, opGet, opCreate, opPatch} {
		if len(res.lat[op]) == 0 {
			t.Errorf("no %s requests were made", opNames[op])
		}
	}
	if res.total() < 100 {
		t.Fatalf("only %d requests in %s", res.total(), o.duration)
	}
	// Both did real work for every request: far more than 10 µs of CPU.
	if res.cpuErr != "" || res.cpu.server < time.Duration(res.total())*10*time.Microsecond ||
		res.cpu.primary < time.Duration(res.total())*10*time.Microsecond || res.cpu.standbysMeasured {
		t.Errorf("CPU over %d requests: %+v (%s)", res.total(), res.cpu, res.cpuErr)
	}
	// The modes below reuse the stack: booting it is most of the cost.
	t.Run("Soak", func(t *testing.T) { testSoak(ctx, t, st, pop, m, o) })
	t.Run("CompareRounds", func(t *testing.T) { testCompareRounds(ctx, t, st, pop, m, o) })
	t.Run("CompareSchemas", func(t *testing.T) { testCompareSchemas(ctx, t, st, pop, o) })
	t.Run("ErrServerExited", func(t *testing.T) { testServerExited(ctx, t, st) })
	t.Run("Replicas", func(t *testing.T) { testReplicas(ctx, t, st, pop, m, o) }) // last: it adds a standby
}

// testReplicas adds one streaming standby and runs a -replicas cycle in
// short rounds (0, 1, 1, 0 replicas), then the token benchmark at 4
// connections: no error, no isolation violation, reads on the replica
// only when it is configured, CPU measured for the standby too, and no
// stale list where the caller's floor is known (the token benchmark
// fails on one).
func testReplicas(ctx context.Context, t *testing.T, st *stack, pop *population, m mix, o options) {
	if err := st.startStandbys(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := st.catchUp(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := replicaConfig{configs: []int{0, 1}, cycles: 1, round: 300 * time.Millisecond, warmup: 100 * time.Millisecond, conns: 8, mix: m, seed: o.seed}
	var out bytes.Buffer
	rounds, err := replicaRounds(ctx, &out, st, pop, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := printReplicas(&out, cfg, rounds); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for i, rr := range rounds {
		reads := rr.routing.replicaReads()
		if rr.res.total() == 0 || (rr.replicas == 0) != (reads == 0) || !rr.res.cpu.standbysMeasured || rr.res.cpu.primary <= 0 {
			t.Errorf("round %d, %d replicas: %d requests, %.0f reads on the replica, CPU %+v", i+1, rr.replicas, rr.res.total(), reads, rr.res.cpu)
		}
	}
	tcfg := tokenConfig{conns: []int{4}, cycles: 1, span: 200 * time.Millisecond, warmup: 50 * time.Millisecond, seed: o.seed}
	if err := runTokenLatency(ctx, &out, st, pop, tcfg); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "| 4 | other instance, token echoed |") {
		t.Errorf("no token row:\n%s", out.String())
	}
	t.Log(out.String())
}

// testSoak runs a soak of five 300 ms intervals and checks every
// sample read the server's resources and counted its requests. Flatness
// is not asserted here (TestSoakVerdict does): two seconds of a shared
// machine prove nothing about leaks.
func testSoak(ctx context.Context, t *testing.T, st *stack, pop *population, m mix, o options) {
	cfg := soakConfig{duration: 1500 * time.Millisecond, interval: 300 * time.Millisecond, warmup: 300 * time.Millisecond, maxGrowth: 0.05}
	rep, err := soak(ctx, st, pop, m, o.conns, cfg, o.seed)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.print(&out)
	t.Logf("soak verdict: %v\n%s", rep.verdict(), out.String())
	if len(rep.samples) != 5 || !rep.samples[0].warmup || rep.samples[1].warmup {
		t.Fatalf("%d samples, first two warm-up %v %v; want 5 and only the first", len(rep.samples), rep.samples[0].warmup, rep.samples[1].warmup)
	}
	for _, s := range rep.samples {
		if s.requests == 0 || s.rss < 1<<20 || s.goroutines < float64(o.conns) || s.fds < float64(o.conns) || s.poolConns < 1 || s.poolConns > 4 {
			t.Errorf("implausible sample at %s: %+v", s.at, s)
		}
	}
	if rep.errors != 0 || rep.violations != 0 {
		t.Fatalf("%d errors %v, %d violations %v", rep.errors, rep.errorSamples, rep.violations, rep.violationSamples)
	}
	// With -target there is no process to read: RSS comes from /metrics.
	if s, err := sampleServer(ctx, &stack{base: st.base}); err != nil || s.rss < 1<<20 {
		t.Errorf("-target sample: %+v, %v", s, err)
	}
}

// testCompareRounds runs two -compare rounds with the checkout's binary on
// both sides: two more server processes, driven one at a time.
func testCompareRounds(ctx context.Context, t *testing.T, st *stack, pop *population, m mix, o options) {
	sides, stop, err := startSides(ctx, st, pop, m, o, [2]string{st.bin, st.bin}, [2]string{st.appURL, st.appURL})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	cfg := compareConfig{rounds: 2, round: 300 * time.Millisecond, warmup: 100 * time.Millisecond, minRatio: 0.95}
	var out bytes.Buffer
	rounds, err := compareRounds(ctx, &out, cfg, sides)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	if len(rounds) != 2 || !rounds[0].oldFirst || rounds[1].oldFirst {
		t.Fatalf("rounds %+v, want old first then new first", rounds)
	}
	for i, r := range rounds {
		for _, res := range []*result{r.old, r.new} {
			if res.total() == 0 || res.serverCPU <= 0 || res.errors != 0 || res.violations != 0 {
				t.Errorf("round %d: %d requests, server CPU %s, %d errors %v, %d violations", i+1, res.total(), res.serverCPU, res.errors, res.errorSamples, res.violations)
			}
		}
	}
	stop()
	for _, s := range sides {
		select {
		case <-s.proc.exited:
		default:
			t.Errorf("%s server still runs after stop", s.name)
		}
	}
}

// testServerExited starts a "server" that exits at once: startServer must
// say so promptly instead of polling /readyz until its timeout.
func testServerExited(ctx context.Context, t *testing.T, st *stack) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := st.startServer(ctx, "/bin/false", 0)
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("err = %v", err)
	}
	if st.server != nil {
		t.Error("the exited server is still recorded as running")
	}
}

// testCompareSchemas runs -compare-schemas rounds: the old side on a
// database of its own, migrated by its binary (here the checkout's) and
// holding a copy of the rows, which every list must find owned as before.
func testCompareSchemas(ctx context.Context, t *testing.T, st *stack, pop *population, o options) {
	oldURL, err := oldDatabase(ctx, st, st.bin)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := parseMix("list=90,get=10")
	sides, stop, err := startSides(ctx, st, pop, m, o, [2]string{st.bin, st.bin}, [2]string{oldURL, st.appURL})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	cfg := compareConfig{rounds: 2, round: 300 * time.Millisecond, warmup: 100 * time.Millisecond, minRatio: 0.95}
	var out bytes.Buffer
	rounds, err := compareRounds(ctx, &out, cfg, sides)
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range rounds {
		for _, r := range []*result{cr.old, cr.new} {
			if r.errors+r.violations > 0 || len(r.lat[opList]) == 0 {
				t.Fatalf("%d errors %v, %d violations %v, %d lists", r.errors, r.errorSamples, r.violations, r.violationSamples, len(r.lat[opList]))
			}
		}
	}
}
