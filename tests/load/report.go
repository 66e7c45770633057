package main

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// percentile of sorted latencies, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

type opStats struct {
	count         int
	rps           float64
	p50, p90, p99 time.Duration
}

func (r *result) stats(o op) opStats {
	s := slices.Clone(r.lat[o])
	slices.Sort(s)
	return opStats{count: len(s), rps: r.rps(o), p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99)}
}

// mean latency of one operation (0 without requests).
func (r *result) mean(o op) time.Duration {
	if len(r.lat[o]) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range r.lat[o] {
		sum += d
	}
	return sum / time.Duration(len(r.lat[o]))
}

// p99 of a span, all operations together.
func (r *result) p99() time.Duration {
	var all []time.Duration
	for o := range r.lat {
		all = append(all, r.lat[o]...)
	}
	slices.Sort(all)
	return percentile(all, 99)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func (r *result) print(w io.Writer, title string) {
	fmt.Fprintf(w, "\n## %s\n\n", title)
	fmt.Fprintf(w, "%d requests in %s: %.0f req/s; errors %d; isolation violations %d; server RSS peak %.1f MiB\n\n",
		r.total(), r.elapsed.Round(time.Millisecond), float64(r.total())/r.elapsed.Seconds(), r.errors, r.violations, float64(r.rssPeak)/(1<<20))
	fmt.Fprintln(w, "| operation | requests | req/s | p50 ms | p90 ms | p99 ms |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for o := op(0); o < nOps; o++ {
		s := r.stats(o)
		if s.count == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s |\n", opNames[o], s.count, s.rps, ms(s.p50), ms(s.p90), ms(s.p99))
	}
	for _, s := range r.errorSamples {
		fmt.Fprintln(w, "  error:", s)
	}
	for _, s := range r.violationSamples {
		fmt.Fprintln(w, "  VIOLATION:", s)
	}
	switch {
	case r.cpuErr != "":
		fmt.Fprintf(w, "\nCPU per request not measured: %s\n", r.cpuErr)
	case r.cpu != cpuUse{}:
		printCPU(w, r.cpu, r.total())
	}
}

// merge adds up runs of the same workload.
func merge(rs []*result) *result {
	m := &result{}
	for _, r := range rs {
		m.conns = r.conns
		m.elapsed += r.elapsed
		for o := range r.lat {
			m.lat[o] = append(m.lat[o], r.lat[o]...)
		}
		m.errors += r.errors
		m.violations += r.violations
		m.errorSamples = append(m.errorSamples, r.errorSamples...)
		m.violationSamples = append(m.violationSamples, r.violationSamples...)
		m.rssPeak = max(m.rssPeak, r.rssPeak)
		m.serverCPU += r.serverCPU
		m.cpu = m.cpu.add(r.cpu)
		m.stale += r.stale
		if r.cpuErr != "" {
			m.cpuErr = r.cpuErr
		}
	}
	return m
}

// absorbFailures adds the errors and violations of other (an unmeasured
// warm-up, say) to r's, so that no wrong response goes unreported.
func (r *result) absorbFailures(other *result) {
	r.errors += other.errors
	r.violations += other.violations
	r.errorSamples = append(other.errorSamples, r.errorSamples...)
	r.violationSamples = append(other.violationSamples, r.violationSamples...)
}
