package auth

import (
	"testing"
	"time"
)

func TestBackoffStaysWithinBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		base, ceiling, floor time.Duration
		wantHigh             []time.Duration // upper bound for n = 1, 2, ...
	}{
		{"StartUp", startRetryMin, startRetryMax, 0,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}},
		{"Loaded", DefaultMinRefreshInterval, DefaultMaxRetryInterval, DefaultMinRefreshInterval,
			[]time.Duration{10 * time.Second, 20 * time.Second, 20 * time.Second}},
		{"CapBelowFloor", time.Second, time.Second, 5 * time.Second, []time.Duration{5 * time.Second, 5 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, high := range append(tt.wantHigh, high(tt.wantHigh)) {
				n := i + 1
				if i == len(tt.wantHigh) {
					n = 1 << 20 // no overflow however long the outage
				}
				low := max(tt.floor, high/2)
				seen := map[time.Duration]bool{}
				for range 200 {
					d := backoff(n, tt.base, tt.ceiling, tt.floor)
					if d < low || d > high {
						t.Fatalf("backoff(%d) = %s, want within [%s, %s]", n, d, low, high)
					}
					seen[d] = true
				}
				if low < high && len(seen) < 2 {
					t.Fatalf("backoff(%d) always %v: no jitter", n, seen)
				}
			}
		})
	}
}

func high(ds []time.Duration) time.Duration { return ds[len(ds)-1] }
