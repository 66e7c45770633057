package ratelimit

import (
	"testing"
	"time"
)

func TestPolicyField(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{Rate: 50, Burst: 100}, `"user";q=100;w=2`},
		{Config{Rate: 3, Burst: 10}, `"user";q=10;w=4`},   // 3.33 s rounds up
		{Config{Rate: 500, Burst: 10}, `"user";q=10;w=1`}, // at least a second
		{Config{Rate: 0.5, Burst: 1}, `"user";q=1;w=2`},
	} {
		if got := tc.c.PolicyField("user"); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.c, got, tc.want)
		}
	}
}

func TestDecisionField(t *testing.T) {
	for _, tc := range []struct {
		d          Decision
		want       string
		retryAfter int64
	}{
		{Decision{Allowed: true, Remaining: 97, Reset: 60 * time.Millisecond}, `"user";r=97;t=1`, 1},
		{Decision{Allowed: true, Remaining: 100}, `"user";r=100;t=0`, 1},
		{Decision{Allowed: true, Remaining: 0, Reset: 2*time.Second + 1}, `"user";r=0;t=3`, 1},
		// Refused: t is Retry-After, whatever the time to a full bucket.
		{Decision{RetryAfter: 20 * time.Millisecond, Reset: 2 * time.Second}, `"user";r=0;t=1`, 1},
		{Decision{RetryAfter: 2500 * time.Millisecond, Reset: 9 * time.Second}, `"user";r=0;t=3`, 3},
	} {
		if got := string(tc.d.AppendField(nil, "user")); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.d, got, tc.want)
		}
		if got := tc.d.RetryAfterSeconds(); got != tc.retryAfter {
			t.Errorf("%+v: Retry-After %d, want %d", tc.d, got, tc.retryAfter)
		}
	}
}
