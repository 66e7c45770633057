package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/ratelimit"
	"github.com/rowgate/rowgate/internal/todo"
)

// BenchmarkRateLimit is what the limits add to an allowed /v1 request:
// the middleware around an authentication step that costs nothing, each
// goroutine a user of its own from an address of its own (OneUser: all
// goroutines the same user, the worst case for its shard's lock).
//
// On a shared machine ns/op counts the time other processes held the CPU;
// cpu-ns/op is the process's own CPU time (getrusage) per request, GC
// included, and is the figure to cite.
func BenchmarkRateLimit(b *testing.B) {
	on := RateLimit{UserRPS: 1e9, UserBurst: 1 << 30, AnonRPS: 1e9, AnonBurst: 1 << 30}
	for _, tc := range []struct {
		name    string
		rl      RateLimit
		oneUser bool
	}{
		{"Off", RateLimit{}, false},
		{"User", RateLimit{UserRPS: on.UserRPS, UserBurst: on.UserBurst}, false},
		{"UserAndAddress", on, false},
		{"UserAndAddressOneUser", on, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			limits := newRateLimits(tc.rl)
			e := echo.New()
			e.IPExtractor = ipExtractor(nil)
			pass := func(next echo.HandlerFunc) echo.HandlerFunc { return next }
			h := limits.around(pass)(func(echo.Context) error { return nil })
			var seq atomic.Int64
			b.ReportAllocs()
			defer reportCPU(b)()
			b.RunParallel(func(pb *testing.PB) {
				n := seq.Add(1)
				if tc.oneUser {
					n = 0
				}
				req := httptest.NewRequest(http.MethodGet, "/v1/todos", nil)
				req.RemoteAddr = fmt.Sprintf("192.0.2.%d:4321", n%250)
				req = req.WithContext(auth.WithCaller(context.Background(), todo.Caller{ID: fmt.Sprintf("user-%032d", n)}))
				c := e.NewContext(req, httptest.NewRecorder())
				for pb.Next() {
					if err := h(c); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkRateLimitFields is the share of the RateLimit and
// RateLimit-Policy fields on an allowed request's response.
func BenchmarkRateLimitFields(b *testing.B) {
	policy := []string{ratelimit.Config{Rate: 50, Burst: 100}.PolicyField(userPolicy)}
	d := ratelimit.Decision{Allowed: true, Remaining: 97, Reset: 60e6}
	h := http.Header{}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		var buf [64]byte
		h[headerRateLimitPolicy] = policy
		h[headerRateLimit] = []string{string(d.AppendField(buf[:0], userPolicy))}
	}
}

// reportCPU starts counting the process's CPU time; the function it
// returns reports it per op as cpu-ns/op.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
