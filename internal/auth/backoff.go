package auth

import (
	"math/rand/v2"
	"time"
)

// backoff returns the delay before the retry that follows n consecutive
// failures (n ≥ 1): base doubled n-1 times and capped at ceiling, then drawn
// uniformly from [max(floor, d/2), d] ("equal jitter"), so that several
// rowgate instances spread their retries. The result never exceeds ceiling
// (when ceiling ≥ floor) and never falls below floor.
func backoff(n int, base, ceiling, floor time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	d = max(min(d, ceiling), floor)
	lo := max(floor, d/2)
	if d <= lo {
		return lo
	}
	return lo + rand.N(d-lo+1)
}
