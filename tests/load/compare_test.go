package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestOldFirstIsABBA(t *testing.T) {
	want := []bool{true, false, false, true, true, false, false, true}
	for i, w := range want {
		if oldFirst(i) != w {
			t.Errorf("round %d: oldFirst = %v, want %v", i+1, !w, w)
		}
	}
}

func TestCompareVerdict(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ratios   []float64
		wantLine string
		wantOK   bool
	}{
		{"Success", []float64{0.97, 1.02, 0.93, 0.99}, "list throughput new/old = 0.980 (limit 0.95)", true},
		{"AtTheLimit", []float64{0.95, 0.95, 0.80, 1.10}, "list throughput new/old = 0.950 (limit 0.95)", true},
		{"OneBadRoundIsNotASlowdown", []float64{1.0, 0.5, 1.0, 1.0, 0.99}, "list throughput new/old = 1.000 (limit 0.95)", true},
		{"ErrSlower", []float64{0.93, 0.94, 0.96, 0.92}, "list throughput new/old = 0.935 (limit 0.95)", false},
		{"ErrNoRounds", nil, "list throughput new/old: no rounds", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line, ok := compareVerdict("list", tc.ratios, 0.95)
			if line != tc.wantLine || ok != tc.wantOK {
				t.Fatalf("got %q %v, want %q %v", line, ok, tc.wantLine, tc.wantOK)
			}
		})
	}
}

// listResult is a one-second span of n list requests, each taking lat,
// for which the server used 100 µs of CPU per request.
func listResult(n int, lat time.Duration) *result {
	r := &result{elapsed: time.Second, serverCPU: time.Duration(n) * 100 * time.Microsecond}
	for range n {
		r.lat[opList] = append(r.lat[opList], lat)
	}
	return r
}

func TestPrintCompare(t *testing.T) {
	rounds := func(newRPS int) []compareRound {
		var rs []compareRound
		for i := range 4 {
			rs = append(rs, compareRound{oldFirst: oldFirst(i), old: listResult(1000, 5*time.Millisecond), new: listResult(newRPS, 6*time.Millisecond)})
		}
		return rs
	}
	t.Run("Success", func(t *testing.T) {
		var b bytes.Buffer
		if err := printCompare(&b, "list", rounds(960), 0.95); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), "inconclusive") {
			t.Errorf("identical rounds called inconclusive:\n%s", b.String())
		}
		for _, want := range []string{"old, all rounds: 4000 requests, 1000 req/s, p99 5.00 ms, server CPU 100 µs/request", "new, all rounds: 3840 requests, 960 req/s, p99 6.00 ms",
			"server CPU per request new/old = 1.000", "list throughput new/old = 0.960 (limit 0.95)"} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, b.String())
			}
		}
	})
	t.Run("InconclusiveWhenNoisy", func(t *testing.T) {
		// Two ABBA cycles: the first at 0.85, the second at 1.05.
		var rs []compareRound
		for i := range 8 {
			n := 850 + 200*(i/4)
			rs = append(rs, compareRound{oldFirst: oldFirst(i), old: listResult(1000, 5*time.Millisecond), new: listResult(n, 5*time.Millisecond)})
			rs[i].new.serverCPU = rs[i].new.serverCPU * 11 / 10
		}
		var b bytes.Buffer
		if err := printCompare(&b, "list", rs, 0.95); err != nil { // median 0.95: at the limit, so it passes
			t.Fatal(err)
		}
		for _, want := range []string{"list throughput new/old = 0.950 (limit 0.95); 95% confidence interval from 2 ABBA cycles 0.850 to 1.050",
			"server CPU per request new/old = 1.100", "inconclusive"} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, b.String())
			}
		}
	})
	t.Run("ErrSlower", func(t *testing.T) {
		var b bytes.Buffer
		if err := printCompare(&b, "list", rounds(940), 0.95); err == nil || !strings.Contains(err.Error(), "0.940 (limit 0.95)") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrViolation", func(t *testing.T) {
		rs := rounds(1000)
		rs[2].new.violations = 1
		var b bytes.Buffer
		if err := printCompare(&b, "list", rs, 0.95); err == nil || !strings.Contains(err.Error(), "1 isolation violations") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestMedianCI(t *testing.T) {
	xs := make([]float64, 80)
	for i := range xs {
		xs[i] = float64(80 - i) // 80 … 1
	}
	// n = 80: k = floor((80 - 1.96·√80) / 2) = 31, so the 31st and 50th values.
	if lo, hi := medianCI(xs); lo != 31 || hi != 50 {
		t.Errorf("n=80: %v, %v; want 31, 50", lo, hi)
	}
	// n = 16: k = 4, the 4th and 13th values.
	if lo, hi := medianCI(xs[64:]); lo != 4 || hi != 13 {
		t.Errorf("n=16: %v, %v; want 4, 13", lo, hi)
	}
	if lo, hi := medianCI([]float64{3, 1, 2}); lo != 1 || hi != 3 {
		t.Errorf("n=3: %v, %v; want the whole range", lo, hi)
	}
}

func TestCyclesMergeFourRounds(t *testing.T) {
	var rs []compareRound
	for i := range 6 { // a cycle of four rounds, then a shorter one of two
		rs = append(rs, compareRound{old: listResult(1000, time.Millisecond), new: listResult(1000+100*i, time.Millisecond)})
	}
	cs := cycles(rs)
	if len(cs) != 2 || cs[0].old.total() != 4000 || cs[0].new.total() != 4600 || cs[1].new.total() != 2900 {
		t.Fatalf("got %d cycles", len(cs))
	}
	if r := cs[0].ratio(); r != 1.15 {
		t.Errorf("first cycle ratio %v, want 1.15", r)
	}
}

func TestModeDefaults(t *testing.T) {
	base := func() options {
		return options{duration: 20 * time.Second, mix: "list=80,get=10,create=5,patch=4,delete=1"}
	}
	t.Run("Soak", func(t *testing.T) {
		o := base()
		o.soak = true
		if err := modeDefaults(&o, map[string]bool{}); err != nil || o.duration != 30*time.Minute || o.warmup != 2*time.Minute {
			t.Fatalf("err %v, duration %s, warmup %s", err, o.duration, o.warmup)
		}
	})
	t.Run("ShortSoakWarmsUpAFifth", func(t *testing.T) {
		o := base()
		o.soak, o.duration = true, 5*time.Minute
		if modeDefaults(&o, map[string]bool{"duration": true}); o.duration != 5*time.Minute || o.warmup != time.Minute {
			t.Fatalf("duration %s, warmup %s", o.duration, o.warmup)
		}
	})
	t.Run("Compare", func(t *testing.T) {
		o := base()
		o.compare = "HEAD"
		if modeDefaults(&o, map[string]bool{}); o.mix != "list=100" || o.duration != 40*time.Second || o.warmup != 200*time.Millisecond {
			t.Fatalf("mix %s, duration %s, warmup %s", o.mix, o.duration, o.warmup)
		}
	})
	t.Run("CompareKeepsGivenFlags", func(t *testing.T) {
		o := base()
		o.compare, o.warmup = "HEAD", 0
		if modeDefaults(&o, map[string]bool{"mix": true, "duration": true, "warmup": true}); o.mix != base().mix || o.duration != 20*time.Second || o.warmup != 0 {
			t.Fatalf("mix %s, duration %s, warmup %s", o.mix, o.duration, o.warmup)
		}
	})
	t.Run("Replicas", func(t *testing.T) {
		o := base()
		o.replicas, o.rounds = true, 40
		if err := modeDefaults(&o, map[string]bool{}); err != nil || o.duration != time.Minute || o.rounds != 18 || o.warmup != time.Second {
			t.Fatalf("err %v, duration %s, rounds %d, warmup %s", err, o.duration, o.rounds, o.warmup)
		}
	})
	t.Run("ErrReplicasAndBench", func(t *testing.T) {
		o := base()
		o.replicas, o.bench = true, true
		if err := modeDefaults(&o, map[string]bool{}); err == nil {
			t.Fatal("no error for -replicas with -bench")
		}
	})
	t.Run("ErrTwoModes", func(t *testing.T) {
		o := base()
		o.compare, o.soak = "HEAD", true
		if err := modeDefaults(&o, map[string]bool{}); err == nil {
			t.Fatal("no error for -compare with -soak")
		}
	})
}
