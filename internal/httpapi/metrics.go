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

// Sample is one value the service reports about what it depends on (the
// database pool, the door's retries, the signing keys). The composition
// root produces them (internal/app), so that the packages that own the
// numbers need not import Prometheus. Labels are name, value pairs; a name
// must keep one set of label names and one kind.
type Sample struct {
	Name, Help string
	Counter    bool
	Labels     []string
	Value      float64
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

func newMetrics(samples func() []Sample) *metrics {
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
	m.reg.MustRegister(buildInfoCollector())
	if samples != nil {
		m.reg.MustRegister(sampleCollector(samples))
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

// sampleCollector reports the samples as constant metrics at each scrape.
// It describes nothing up front (an unchecked collector): the set of
// samples is the composition root's to choose.
type sampleCollector func() []Sample

func (sampleCollector) Describe(chan<- *prometheus.Desc) {}

func (f sampleCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range f() {
		names := make([]string, 0, len(s.Labels)/2)
		values := make([]string, 0, len(s.Labels)/2)
		for i := 0; i+1 < len(s.Labels); i += 2 {
			names, values = append(names, s.Labels[i]), append(values, s.Labels[i+1])
		}
		kind := prometheus.GaugeValue
		if s.Counter {
			kind = prometheus.CounterValue
		}
		desc := prometheus.NewDesc(s.Name, s.Help, names, nil)
		ch <- prometheus.MustNewConstMetric(desc, kind, s.Value, values...)
	}
}
