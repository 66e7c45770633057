package httpapi

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func TestAppendDigits(t *testing.T) {
	for _, w := range []int{2, 4, 9} {
		for _, v := range []int{0, 1, 9, 10, 42, 99, 100, 999, 2026, 9999, 123456789, 100000000} {
			if w == 2 && v > 99 || w == 4 && v > 9999 {
				continue
			}
			if got, want := string(appendDigits(nil, v, w)), fmt.Sprintf("%0*d", w, v); got != want {
				t.Errorf("appendDigits(%d, %d) = %q, want %q", v, w, got, want)
			}
		}
	}
}

// TestAppendTimeMatchesRFC3339Nano checks the hand-written formatter against
// the standard one, on edge cases and random instants.
func TestAppendTimeMatchesRFC3339Nano(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 11, 25, 12, 0, 0, 120000, time.FixedZone("x", 3600)),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 0, 0, 0, 100, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		times = append(times, time.Unix(r.Int64N(1<<35), r.Int64N(1e9)).UTC())
	}
	for _, tm := range times {
		want := `"` + tm.UTC().Format(time.RFC3339Nano) + `"`
		if got := string(appendTime(nil, tm)); got != want {
			t.Fatalf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
