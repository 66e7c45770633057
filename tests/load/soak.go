package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// soakConfig is what a soak runs for and how it judges.
type soakConfig struct {
	duration  time.Duration // total, warm-up included
	interval  time.Duration // one sample per interval
	warmup    time.Duration // samples of intervals that start earlier are shown, not judged
	maxGrowth float64       // a judged series must grow by less than this (0.05 = 5%)
}

// soakSample is the server's state at the end of one interval, and what
// the interval measured.
type soakSample struct {
	at                 time.Duration // end of the interval, since the soak began
	warmup             bool
	requests           int
	rps                float64
	p99                time.Duration
	rss                float64 // bytes
	goroutines         float64
	fds                float64
	poolConns          float64
	errors, violations int64
}

// soakSeries names one column of the samples; judged ones must be flat.
type soakSeries struct {
	name   string
	judged bool
	value  func(soakSample) float64
	format func(float64) string
}

var soakSeriesList = []soakSeries{
	{"server RSS (MiB)", true, func(s soakSample) float64 { return s.rss }, func(v float64) string { return fmt.Sprintf("%.1f", v/(1<<20)) }},
	{"goroutines", true, func(s soakSample) float64 { return s.goroutines }, func(v float64) string { return fmt.Sprintf("%.0f", v) }},
	{"open file descriptors", true, func(s soakSample) float64 { return s.fds }, func(v float64) string { return fmt.Sprintf("%.0f", v) }},
	{"pool connections", true, func(s soakSample) float64 { return s.poolConns }, func(v float64) string { return fmt.Sprintf("%.0f", v) }},
	{"req/s", false, func(s soakSample) float64 { return s.rps }, func(v float64) string { return fmt.Sprintf("%.0f", v) }},
	{"p99 ms", false, func(s soakSample) float64 { return float64(s.p99) }, func(v float64) string { return ms(time.Duration(v)) }},
}

// trend summarises one series after warm-up. Growth is the median of its
// last quarter over the median of its first quarter, minus one: medians of
// quarters ignore a single sample caught mid-GC or mid-burst, while a leak,
// which grows steadily, moves the last quarter away from the first.
type trend struct {
	first, last, max float64
	growth           float64 // +Inf when the first quarter is 0 and the last is not
}

// errTooFewSamples means the soak was too short to judge flatness.
var errTooFewSamples = errors.New("fewer than 4 samples after warm-up: lengthen -duration or shorten -interval or -warmup")

// measureTrend computes the trend of xs, which needs at least 4 samples.
func measureTrend(xs []float64) (trend, error) {
	if len(xs) < 4 {
		return trend{}, errTooFewSamples
	}
	q := (len(xs) + 3) / 4
	t := trend{first: median(xs[:q]), last: median(xs[len(xs)-q:]), max: slices.Max(xs)}
	switch {
	case t.first != 0:
		t.growth = t.last/t.first - 1
	case t.last != 0:
		t.growth = math.Inf(1)
	}
	return t, nil
}

// flat reports whether a trend grew by less than maxGrowth.
func (t trend) flat(maxGrowth float64) bool { return t.growth < maxGrowth }

// soakReport is a whole soak: its samples and totals.
type soakReport struct {
	cfg              soakConfig
	samples          []soakSample
	requests         int
	errors           int64
	violations       int64
	errorSamples     []string
	violationSamples []string
}

// soak drives m on one set of kept-alive connections for cfg.duration and
// samples the server after every interval. It returns an error only when
// it cannot measure; the verdict is the report's.
func soak(ctx context.Context, st *stack, pop *population, m mix, conns int, cfg soakConfig, seed int64) (*soakReport, error) {
	dr, err := newDriver(st, st.base, pop, m, conns, seed)
	if err != nil {
		return nil, err
	}
	defer dr.close()
	rep := &soakReport{cfg: cfg}
	for at := time.Duration(0); at < cfg.duration; {
		span := min(cfg.interval, cfg.duration-at)
		res := dr.run(ctx, span)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s, err := sampleServer(ctx, st)
		if err != nil {
			return nil, err
		}
		s.warmup = at < cfg.warmup
		at += span
		s.at = at
		rep.add(s, res)
	}
	return rep, nil
}

// sampleServer reads the server's RSS (from /proc for its own stack, else
// from /metrics) and the gauges of /metrics.
func sampleServer(ctx context.Context, st *stack) (soakSample, error) {
	names := []string{metricGoroutines, metricOpenFDs, metricPoolConns}
	if st.server == nil {
		names = append(names, metricRSS)
	}
	v, err := scrapeMetrics(ctx, st.base, names...)
	if err != nil {
		return soakSample{}, err
	}
	s := soakSample{goroutines: v[metricGoroutines], fds: v[metricOpenFDs], poolConns: v[metricPoolConns], rss: v[metricRSS]}
	if st.server != nil {
		now, _ := st.rss()
		s.rss = float64(now)
	}
	return s, nil
}

// add records one interval's sample and what its requests measured.
func (rep *soakReport) add(s soakSample, res *result) {
	s.requests, s.rps, s.p99 = res.total(), throughput(res), res.p99()
	s.errors, s.violations = res.errors, res.violations
	rep.samples = append(rep.samples, s)
	rep.requests += s.requests
	rep.errors += res.errors
	rep.violations += res.violations
	rep.errorSamples = appendUpTo(rep.errorSamples, res.errorSamples, 10)
	rep.violationSamples = appendUpTo(rep.violationSamples, res.violationSamples, 10)
}

func appendUpTo(dst, src []string, n int) []string {
	return append(dst, src[:min(len(src), max(0, n-len(dst)))]...)
}

// judged returns the values of one series after warm-up.
func (rep *soakReport) judged(s soakSeries) []float64 {
	var xs []float64
	for _, smp := range rep.samples {
		if !smp.warmup {
			xs = append(xs, s.value(smp))
		}
	}
	return xs
}

// verdict is nil when every judged series is flat and no response was
// wrong or leaked another user's data.
func (rep *soakReport) verdict() error {
	var problems []string
	for _, s := range soakSeriesList {
		if !s.judged {
			continue
		}
		t, err := measureTrend(rep.judged(s))
		if err != nil {
			return err
		}
		if !t.flat(rep.cfg.maxGrowth) {
			problems = append(problems, fmt.Sprintf("%s grew %s", s.name, pct(t.growth)))
		}
	}
	if rep.violations > 0 || rep.errors > 0 {
		problems = append(problems, fmt.Sprintf("%d isolation violations, %d errors", rep.violations, rep.errors))
	}
	if len(problems) > 0 {
		return fmt.Errorf("soak failed: %s", strings.Join(problems, "; "))
	}
	return nil
}

func pct(x float64) string {
	if math.IsInf(x, 1) {
		return "from 0"
	}
	return fmt.Sprintf("%+.1f%%", 100*x)
}

// print writes the samples, the trend of every series and the verdict.
func (rep *soakReport) print(w io.Writer) {
	fmt.Fprintln(w, "| t | req/s | p99 ms | RSS MiB | goroutines | open fds | pool conns | errors | violations |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range rep.samples {
		t := s.at.Round(time.Second).String()
		if s.warmup {
			t += " (warm-up)"
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %.1f | %.0f | %.0f | %.0f | %d | %d |\n",
			t, s.rps, ms(s.p99), s.rss/(1<<20), s.goroutines, s.fds, s.poolConns, s.errors, s.violations)
	}
	fmt.Fprintf(w, "\nAfter warm-up: median of the first quarter of samples against median of the last quarter (flat: growth under %.0f%%).\n\n", 100*rep.cfg.maxGrowth)
	fmt.Fprintln(w, "| series | first quarter | last quarter | growth | max | flat |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|")
	for _, s := range soakSeriesList {
		t, err := measureTrend(rep.judged(s))
		if err != nil {
			fmt.Fprintf(w, "| %s | | | | | %v |\n", s.name, err)
			continue
		}
		mark := "(not judged: the machine is shared)"
		if s.judged {
			mark = map[bool]string{true: "yes", false: "**no**"}[t.flat(rep.cfg.maxGrowth)]
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", s.name, s.format(t.first), s.format(t.last), pct(t.growth), s.format(t.max), mark)
	}
	fmt.Fprintf(w, "\n%d requests; errors %d; isolation violations %d\n", rep.requests, rep.errors, rep.violations)
	for _, s := range rep.errorSamples {
		fmt.Fprintln(w, "  error:", s)
	}
	for _, s := range rep.violationSamples {
		fmt.Fprintln(w, "  VIOLATION:", s)
	}
}

// runSoak drives the default mix for -duration, sampling the server every
// -interval, and fails unless its resources stay flat after -warmup.
func runSoak(ctx context.Context, o options) error {
	m, err := parseMix(o.mix)
	if err != nil {
		return err
	}
	st, pop, err := openSeeded(ctx, o, o.todos)
	if err != nil {
		return err
	}
	defer st.close()
	cfg := soakConfig{duration: o.duration, interval: o.interval, warmup: o.warmup, maxGrowth: o.maxGrowth}
	w := os.Stdout
	fmt.Fprintf(w, "# rowgate soak\n\n%s; %d CPUs; %d users × %d todos; mix %s; %d connections; %s, a sample every %s, warm-up %s\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), o.users, o.todos, o.mix, o.conns, cfg.duration, cfg.interval, cfg.warmup)
	rep, err := soak(ctx, st, pop, m, o.conns, cfg, o.seed)
	if err != nil {
		return err
	}
	rep.print(w)
	err = rep.verdict()
	if err == nil {
		fmt.Fprintln(w, "\nsoak: flat, 0 isolation violations, 0 errors")
	}
	return err
}
