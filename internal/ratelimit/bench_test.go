package ratelimit

import (
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkTake is an allowed request of a known key (one of 1,000 users).
func BenchmarkTake(b *testing.B) {
	l, _ := New[string](Config{Rate: 1e9, Burst: 1 << 30})
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "user-" + strconv.Itoa(i)
	}
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		l.Take(keys[i%len(keys)])
		i++
	}
}

// BenchmarkTakeNewKeys is a flood of keys never seen, far more than the
// limiter holds and none idle: every Take inserts and evicts.
func BenchmarkTakeNewKeys(b *testing.B) {
	l, _ := New[int](Config{Rate: 0.001, Burst: 10})
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		l.Take(i)
		i++
	}
	if n := l.Len(); n > l.MaxKeys() {
		b.Fatalf("Len %d over MaxKeys %d", n, l.MaxKeys())
	}
}

// reportCPU reports the process's CPU time per op (cpu-ns/op), the figure
// that holds on a machine other processes share.
func reportCPU(b *testing.B) func() {
	b.ReportAllocs()
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
