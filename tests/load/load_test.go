package main

import (
	"context"
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
	o := options{users: 64, todos: 20, conns: 16, duration: 3 * time.Second, dbMaxConns: 4,
		mix: "list=80,get=10,create=5,patch=4,delete=1", seed: 1}
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
}
