package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// PoolStats is a snapshot of the database pool, for /metrics.
type PoolStats struct {
	Acquired, Idle, Total, Max      int32
	AcquireCount, EmptyAcquireCount int64
	CanceledAcquireCount            int64
	AcquireDuration                 time.Duration
}

type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// series caches the children of both vectors per label set, so a
	// request costs one map read instead of two label-hash lookups.
	series sync.Map // seriesKey -> *series
}

type seriesKey struct {
	method, route string
	status        int
}

type series struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func newMetrics(pool func() PoolStats) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rowgate_http_requests_total",
			Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rowgate_http_request_duration_seconds",
			Help:    "HTTP request latency by method, route and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
	}
	m.reg.MustRegister(m.requests, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if pool != nil {
		m.reg.MustRegister(poolCollector(pool))
	}
	return m
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
	default:
		method = "OTHER" // a client must not grow the label set at will
	}
	k := seriesKey{method, route, status}
	v, ok := m.series.Load(k)
	if !ok {
		s := strconv.Itoa(status)
		v, _ = m.series.LoadOrStore(k, &series{
			requests: m.requests.WithLabelValues(method, route, s),
			latency:  m.latency.WithLabelValues(method, route, s),
		})
	}
	sr := v.(*series)
	sr.requests.Inc()
	sr.latency.Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

type poolStatsCollector struct {
	stats func() PoolStats
	descs map[string]*prometheus.Desc
}

func poolCollector(stats func() PoolStats) prometheus.Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("rowgate_db_pool_"+name, help, nil, nil)
	}
	return &poolStatsCollector{stats: stats, descs: map[string]*prometheus.Desc{
		"acquired":          d("acquired_conns", "Connections in use."),
		"idle":              d("idle_conns", "Idle connections."),
		"total":             d("total_conns", "Open connections."),
		"max":               d("max_conns", "Maximum connections."),
		"acquires":          d("acquires_total", "Successful acquires."),
		"empty_acquires":    d("empty_acquires_total", "Acquires that had to wait for a connection."),
		"canceled_acquires": d("canceled_acquires_total", "Acquires cancelled while waiting."),
		"acquire_seconds":   d("acquire_duration_seconds_total", "Time spent acquiring connections."),
	}}
}

func (p *poolStatsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range p.descs {
		ch <- d
	}
}

func (p *poolStatsCollector) Collect(ch chan<- prometheus.Metric) {
	s := p.stats()
	gauge := func(k string, v float64) { ch <- prometheus.MustNewConstMetric(p.descs[k], prometheus.GaugeValue, v) }
	counter := func(k string, v float64) { ch <- prometheus.MustNewConstMetric(p.descs[k], prometheus.CounterValue, v) }
	gauge("acquired", float64(s.Acquired))
	gauge("idle", float64(s.Idle))
	gauge("total", float64(s.Total))
	gauge("max", float64(s.Max))
	counter("acquires", float64(s.AcquireCount))
	counter("empty_acquires", float64(s.EmptyAcquireCount))
	counter("canceled_acquires", float64(s.CanceledAcquireCount))
	counter("acquire_seconds", s.AcquireDuration.Seconds())
}
