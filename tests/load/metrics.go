package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The server metrics a soak watches, by their Prometheus names.
const (
	metricGoroutines = "go_goroutines"
	metricOpenFDs    = "process_open_fds"
	metricRSS        = "process_resident_memory_bytes"
	metricPoolConns  = "rowgate_db_pool_total_conns"
)

// scrapeMetrics reads the server's /metrics (Prometheus text format) and
// returns the value of each unlabelled gauge or counter named in names.
// A name the server does not export is an error: a soak must not judge a
// series it never saw.
func scrapeMetrics(ctx context.Context, base string, names ...string) (map[string]float64, error) {
	c := newConn(base)
	defer c.close()
	var body bytes.Buffer
	status, err := c.do(ctx, "GET", "/metrics", "none", "", &body)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: status %d", status)
	}
	return parseMetrics(&body, names...)
}

// parseMetrics picks names out of a Prometheus text exposition.
func parseMetrics(body *bytes.Buffer, names ...string) (map[string]float64, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(body)
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	out := make(map[string]float64, len(names))
	for _, name := range names {
		f, ok := families[name]
		if !ok || len(f.GetMetric()) != 1 {
			return nil, fmt.Errorf("/metrics has no single series %s", name)
		}
		m := f.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			out[name] = m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			out[name] = m.GetCounter().GetValue()
		case m.GetUntyped() != nil:
			out[name] = m.GetUntyped().GetValue()
		default:
			return nil, fmt.Errorf("/metrics: %s is neither a gauge nor a counter", name)
		}
	}
	return out, nil
}

// routingCounts is where a server sent its reads, from /metrics. Without
// replicas the server exports none of these series: all zero.
type routingCounts struct {
	primary    float64            // rowgate_db_reads_total{target="primary"}
	replicas   map[string]float64 // rowgate_db_reads_total by replica
	fallbacks  map[string]float64 // rowgate_db_replica_fallbacks_total by reason
	inRotation map[string]float64 // rowgate_db_replica_in_rotation by replica (a gauge)
}

// scrapeRouting reads the server's routing counters.
func scrapeRouting(ctx context.Context, base string) (routingCounts, error) {
	c := newConn(base)
	defer c.close()
	var body bytes.Buffer
	status, err := c.do(ctx, "GET", "/metrics", "none", "", &body)
	if err != nil {
		return routingCounts{}, fmt.Errorf("GET /metrics: %w", err)
	}
	if status != http.StatusOK {
		return routingCounts{}, fmt.Errorf("GET /metrics: status %d", status)
	}
	return parseRouting(&body)
}

// parseRouting picks the routing series out of a Prometheus text
// exposition.
func parseRouting(body *bytes.Buffer) (routingCounts, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(body)
	if err != nil {
		return routingCounts{}, fmt.Errorf("parse /metrics: %w", err)
	}
	byLabel := func(name, label string) map[string]float64 {
		out := map[string]float64{}
		for _, m := range families[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					out[l.GetValue()] = m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
				}
			}
		}
		return out
	}
	rc := routingCounts{replicas: byLabel("rowgate_db_reads_total", "target"),
		fallbacks:  byLabel("rowgate_db_replica_fallbacks_total", "reason"),
		inRotation: byLabel("rowgate_db_replica_in_rotation", "replica")}
	rc.primary = rc.replicas["primary"]
	delete(rc.replicas, "primary")
	return rc, nil
}

// sub is the counters' growth from b to a; inRotation stays a's.
func (a routingCounts) sub(b routingCounts) routingCounts {
	return routingCounts{primary: a.primary - b.primary, replicas: combine(a.replicas, b.replicas, -1),
		fallbacks: combine(a.fallbacks, b.fallbacks, -1), inRotation: a.inRotation}
}

// add sums two spans' counters; inRotation becomes b's (the later).
func (a routingCounts) add(b routingCounts) routingCounts {
	return routingCounts{primary: a.primary + b.primary, replicas: combine(a.replicas, b.replicas, 1),
		fallbacks: combine(a.fallbacks, b.fallbacks, 1), inRotation: b.inRotation}
}

// combine returns a + sign·b, key by key.
func combine(a, b map[string]float64, sign float64) map[string]float64 {
	out := make(map[string]float64, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] += sign * v
	}
	return out
}

// replicaReads is the reads every replica served.
func (r routingCounts) replicaReads() float64 {
	n := 0.0
	for _, v := range r.replicas {
		n += v
	}
	return n
}

// replicaShare is the share of reads the replicas served (0 without reads).
func (r routingCounts) replicaShare() float64 {
	all := r.primary + r.replicaReads()
	if all <= 0 {
		return 0
	}
	return r.replicaReads() / all
}

// fallbackText lists the fallbacks to the primary by reason, "none" when
// there were none.
func (r routingCounts) fallbackText() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r.fallbacks)) {
		if v := r.fallbacks[k]; v != 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", k, v))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
