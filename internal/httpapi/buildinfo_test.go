package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rowgate/rowgate/internal/buildinfo"
)

// TestMetricsBuildInfo: /metrics carries rowgate_build_info with this
// build's version, revision and Go version, at 1.
func TestMetricsBuildInfo(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(New(Options{}))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v", resp.StatusCode, err)
	}
	info := buildinfo.Read()
	want := fmt.Sprintf("rowgate_build_info{goversion=%q,revision=%q,version=%q} 1\n",
		info.GoVersion, info.Revision, info.Version)
	if !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %q", want)
	}
}
