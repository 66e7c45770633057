package main

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestMeasureTrend(t *testing.T) {
	for _, tc := range []struct {
		name     string
		xs       []float64
		wantFlat bool
	}{
		{"FlatWithNoise", []float64{40, 41, 39.5, 40.5, 40, 41, 39.8, 40.2}, true},
		{"OneSpikeIsNotGrowth", []float64{40, 40, 40, 60, 40, 40, 40, 40}, true},
		{"Shrinking", []float64{50, 49, 48, 47, 46, 45, 44, 43}, true},
		{"ErrLeak", []float64{40, 41, 42, 43, 44, 45, 46, 47}, false},
		{"ErrStepAfterHalfway", []float64{26, 26, 26, 26, 28, 28, 28, 28}, false},
		{"ZeroStaysZero", []float64{0, 0, 0, 0}, true},
		{"ErrGrowsFromZero", []float64{0, 0, 1, 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := measureTrend(tc.xs)
			if err != nil {
				t.Fatal(err)
			}
			if got := tr.flat(0.05); got != tc.wantFlat {
				t.Fatalf("flat = %v (growth %v, first %v, last %v), want %v", got, tr.growth, tr.first, tr.last, tc.wantFlat)
			}
		})
	}
	t.Run("QuartersAndMax", func(t *testing.T) {
		// 9 samples: quarters of ceil(9/4) = 3.
		tr, _ := measureTrend([]float64{10, 30, 20, 99, 0, 0, 11, 33, 22})
		if tr.first != 20 || tr.last != 22 || tr.max != 99 || math.Abs(tr.growth-0.1) > 1e-9 {
			t.Fatalf("got %+v", tr)
		}
	})
	t.Run("ErrTooFewSamples", func(t *testing.T) {
		if _, err := measureTrend([]float64{1, 2, 3}); !errors.Is(err, errTooFewSamples) {
			t.Fatalf("err = %v", err)
		}
	})
}

// soakReportOf makes a report whose judged series are all flat at 40 MiB,
// 30 goroutines, 40 fds and 4 pool connections, after two warm-up samples
// that are much lower (a server filling up).
func soakReportOf(n int, change func(i int, s *soakSample)) *soakReport {
	rep := &soakReport{cfg: soakConfig{maxGrowth: 0.05}}
	for i := range n {
		s := soakSample{at: time.Duration(i+1) * time.Second, rss: 40 << 20, goroutines: 30, fds: 40, poolConns: 4, rps: 1000}
		if i < 2 {
			s.warmup, s.rss, s.goroutines, s.poolConns = true, 10<<20, 10, 1
		}
		if change != nil {
			change(i, &s)
		}
		rep.samples = append(rep.samples, s)
	}
	return rep
}

func TestSoakVerdict(t *testing.T) {
	t.Run("Success", func(t *testing.T) {
		if err := soakReportOf(10, nil).verdict(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ThroughputIsNotJudged", func(t *testing.T) {
		rep := soakReportOf(10, func(i int, s *soakSample) { s.rps, s.p99 = float64(1000-80*i), time.Duration(i)*time.Millisecond })
		if err := rep.verdict(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrGoroutineLeak", func(t *testing.T) {
		rep := soakReportOf(10, func(i int, s *soakSample) { s.goroutines += float64(i) })
		if err := rep.verdict(); err == nil || !strings.Contains(err.Error(), "goroutines grew") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrViolation", func(t *testing.T) {
		rep := soakReportOf(10, nil)
		rep.violations = 1
		if err := rep.verdict(); err == nil || !strings.Contains(err.Error(), "1 isolation violations") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrTooShort", func(t *testing.T) {
		if err := soakReportOf(5, nil).verdict(); !errors.Is(err, errTooFewSamples) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("PrintMarksWarmUpAndVerdict", func(t *testing.T) {
		var b bytes.Buffer
		soakReportOf(10, func(i int, s *soakSample) { s.fds += float64(5 * i) }).print(&b)
		out := b.String()
		for _, want := range []string{"| 2s (warm-up) |", "| 3s |", "| open file descriptors | 52 | 82 | +57.1% | 85 | **no** |", "| goroutines | 30 | 30 | +0.0% | 30 | yes |"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
}

func TestParseMetrics(t *testing.T) {
	const text = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 27
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 31
# TYPE rowgate_db_pool_acquires_total counter
rowgate_db_pool_acquires_total 1234
# TYPE rowgate_http_requests_total counter
rowgate_http_requests_total{method="GET",route="/v1/todos",status="200"} 5
rowgate_http_requests_total{method="GET",route="/v1/me",status="200"} 6
`
	got, err := parseMetrics(bytes.NewBufferString(text), metricGoroutines, metricOpenFDs, "rowgate_db_pool_acquires_total")
	if err != nil {
		t.Fatal(err)
	}
	if got[metricGoroutines] != 27 || got[metricOpenFDs] != 31 || got["rowgate_db_pool_acquires_total"] != 1234 {
		t.Fatalf("got %v", got)
	}
	for _, name := range []string{metricPoolConns, "rowgate_http_requests_total"} {
		if _, err := parseMetrics(bytes.NewBufferString(text), name); err == nil {
			t.Errorf("%s: no error for a missing or labelled series", name)
		}
	}
}
