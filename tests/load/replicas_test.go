package main

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestReplicaOrder(t *testing.T) {
	cfg := replicaConfig{configs: []int{0, 1, 2}, cycles: 2}
	if got, want := cfg.order(), []int{0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("replica rounds %v, want %v", got, want)
	}
	if got, want := (tokenConfig{cycles: 1}).order(), []int{0, 1, 2, 2, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("token arms %v, want %v", got, want)
	}
}

// replicaRoundsOf makes a cycle's rounds in order 0,1,1,0 in which 0
// replicas serve base requests a second and 1 replica n[i] in cycle i.
func replicaRoundsOf(base int, ones ...int) []replicaRound {
	var rs []replicaRound
	for _, n := range ones {
		for _, k := range []int{0, 1, 1, 0} {
			count := base
			if k == 1 {
				count = n
			}
			r := listResult(count, time.Millisecond)
			r.cpu = cpuUse{server: time.Duration(count) * 100 * time.Microsecond, primary: time.Duration(count) * 50 * time.Microsecond}
			if k == 1 {
				r.cpu.server *= 2 // twice the CPU per request
			}
			rs = append(rs, replicaRound{replicas: k, res: r})
		}
	}
	return rs
}

func TestReplicaRatios(t *testing.T) {
	cfg := replicaConfig{configs: []int{0, 1}, cycles: 3}
	cycles := replicaCycles(cfg, replicaRoundsOf(1000, 900, 500, 1100))
	if len(cycles) != 3 || cycles[1][1].total() != 1000 || cycles[1][0].total() != 2000 {
		t.Fatalf("cycles %v", cycles)
	}
	// The cycles' throughput ratios are 0.9, 0.5 and 1.1: the median
	// ignores the cycle a neighbour's burst spoiled.
	if r := medianRatio(cycles, 1, 0, throughput); math.Abs(r-0.9) > 1e-9 {
		t.Errorf("throughput ratio %v, want 0.9", r)
	}
	cpu := replicaRatios[3]
	if r := medianRatio(cycles, 1, 0, cpu.value); cpu.name != "rowgate CPU/request" || math.Abs(r-2) > 1e-9 {
		t.Errorf("%s ratio %v, want 2", cpu.name, r)
	}
	if r := medianRatio(cycles, 2, 0, throughput); !math.IsNaN(r) {
		t.Errorf("ratio of a configuration never run: %v, want NaN", r)
	}
}

func TestPrintReplicas(t *testing.T) {
	cfg := replicaConfig{configs: []int{0, 1}, cycles: 1}
	rounds := replicaRoundsOf(1000, 950)
	rounds[1].routing = routingCounts{primary: 10, replicas: map[string]float64{"r1": 90}, fallbacks: map[string]float64{"floor_not_reached": 10}}
	var b bytes.Buffer
	if err := printReplicas(&b, cfg, rounds); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## 0 replicas, all 2 rounds", "reads: all on the primary", "## 1 replica, all 2 rounds",
		"reads: primary 10, replicas 90 (90.0% of reads on replicas); fallbacks to the primary: floor_not_reached 10",
		"| 1 | 0.950 | 1.000 | 1.000 | 2.000 | 1.000 |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
	rounds[2].res.violations = 1
	if err := printReplicas(&b, cfg, rounds); err == nil || !strings.Contains(err.Error(), "1 isolation violations") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseRouting(t *testing.T) {
	text := func(primary, r1, r2, floor float64) *bytes.Buffer {
		return bytes.NewBufferString(`# TYPE rowgate_db_reads_total counter
rowgate_db_reads_total{target="primary"} ` + ftoa(primary) + `
rowgate_db_reads_total{target="%2Ftmp%2Fa"} ` + ftoa(r1) + `
rowgate_db_reads_total{target="%2Ftmp%2Fb"} ` + ftoa(r2) + `
# TYPE rowgate_db_replica_fallbacks_total counter
rowgate_db_replica_fallbacks_total{reason="floor_not_reached"} ` + ftoa(floor) + `
rowgate_db_replica_fallbacks_total{reason="first_contact"} 3
# TYPE rowgate_db_replica_in_rotation gauge
rowgate_db_replica_in_rotation{replica="%2Ftmp%2Fa"} 1
rowgate_db_replica_in_rotation{replica="%2Ftmp%2Fb"} 0
# TYPE go_goroutines gauge
go_goroutines 27
`)
	}
	before, err := parseRouting(text(5, 10, 20, 1))
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseRouting(text(15, 55, 65, 11))
	if err != nil {
		t.Fatal(err)
	}
	if after.inRotation["%2Ftmp%2Fa"] != 1 || after.inRotation["%2Ftmp%2Fb"] != 0 || after.primary != 15 {
		t.Fatalf("parsed %+v", after)
	}
	d := after.sub(before)
	if d.primary != 10 || d.replicaReads() != 90 || d.replicaShare() != 0.9 || d.fallbackText() != "floor_not_reached 10" {
		t.Errorf("delta %+v: share %v, fallbacks %q", d, d.replicaShare(), d.fallbackText())
	}
	if sum := d.add(d); sum.primary != 20 || sum.replicaReads() != 180 || sum.fallbacks["floor_not_reached"] != 20 {
		t.Errorf("sum %+v", sum)
	}
	none, err := parseRouting(bytes.NewBufferString("# TYPE go_goroutines gauge\ngo_goroutines 27\n"))
	if err != nil || none.replicaShare() != 0 || none.fallbackText() != "none" {
		t.Errorf("without replicas: %+v, %v", none, err)
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func TestMeanLatency(t *testing.T) {
	r := listResult(3, time.Millisecond)
	r.lat[opList][2] = 4 * time.Millisecond
	if got := r.mean(opList); got != 2*time.Millisecond {
		t.Errorf("mean %s, want 2ms", got)
	}
	if got := r.mean(opCreate); got != 0 {
		t.Errorf("mean without requests %s, want 0", got)
	}
}
