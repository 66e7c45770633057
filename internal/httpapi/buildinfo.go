package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rowgate/rowgate/internal/buildinfo"
)

// buildInfoCollector is the rowgate_build_info gauge: always 1, labelled
// with the running build's version, VCS revision and Go version, so a
// dashboard can tell which build served which requests.
func buildInfoCollector() prometheus.Collector {
	info := buildinfo.Read()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rowgate_build_info",
		Help: "Always 1; the labels name the running build.",
		ConstLabels: prometheus.Labels{
			"version": info.Version, "revision": info.Revision, "goversion": info.GoVersion,
		},
	})
	g.Set(1)
	return g
}
