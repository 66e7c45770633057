package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

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
