package postgres

import (
	"strings"
	"testing"
	"time"
)

func TestTokenRoundTrip(t *testing.T) {
	f := floor{system: 7714699150599076458, timeline: 3, lsn: 0x3000068}
	got, ok := parseToken(f.token())
	if !ok || got != f {
		t.Fatalf("parseToken(token) = %+v, %v; want %+v", got, ok, f)
	}
	tok := f.token()
	for _, bad := range []string{"", "x", tok + "A", tok[:len(tok)-1], strings.Repeat("A", len(tok)), "!" + tok[1:],
		floor{system: 1, timeline: 1, lsn: 0}.token()} {
		if _, ok := parseToken(bad); ok {
			t.Errorf("parseToken(%q) accepted", bad)
		}
	}
}

func TestFloorCovers(t *testing.T) {
	f := floor{system: 1, timeline: 2, lsn: 100}
	for _, tc := range []struct {
		g    floor
		want bool
	}{
		{floor{1, 2, 100}, true}, {floor{1, 2, 99}, true}, {floor{1, 2, 101}, false},
		{floor{1, 1, 50}, false}, {floor{1, 3, 50}, false}, {floor{9, 2, 50}, false},
	} {
		if got := f.covers(tc.g); got != tc.want {
			t.Errorf("%+v covers %+v = %v, want %v", f, tc.g, got, tc.want)
		}
	}
}

// TestFloorsForget: a floor is forgotten once reached everywhere or once
// older than the lag a replica in rotation may have; a full memory sends
// every caller without a floor to the primary, never to a stale replica.
func TestFloorsForget(t *testing.T) {
	now := time.Now()
	fs := newFloors(2, 10*time.Second)
	fs.remember("a", floor{1, 1, 10}, now)
	fs.remember("b", floor{1, 1, 20}, now)
	fs.remember("c", floor{1, 1, 30}, now) // over the bound
	if _, primaryOnly := fs.get("c", now); !primaryOnly {
		t.Fatal("a caller whose floor could not be kept may read from a replica")
	}
	if f, primaryOnly := fs.get("a", now); f.lsn != 10 || primaryOnly {
		t.Fatalf("a: %+v %v", f, primaryOnly)
	}
	left := fs.forget(func(f floor) bool { return f.lsn <= 15 }, now)
	if left != 1 {
		t.Fatalf("%d floors left, want 1 (b)", left)
	}
	if f, _ := fs.get("b", now.Add(11*time.Second)); !f.zero() {
		t.Fatal("a floor older than the maximum lag was kept")
	}
	if _, primaryOnly := fs.get("c", now.Add(11*time.Second)); primaryOnly {
		t.Fatal("the overflow never ended")
	}
}

func TestWALHistoryLag(t *testing.T) {
	t0 := time.Now()
	h := walHistory{max: 4}
	h.add(t0, 100)
	h.add(t0.Add(time.Second), 100) // idle: the oldest sample stands
	h.add(t0.Add(2*time.Second), 200)
	h.add(t0.Add(3*time.Second), 300)
	now := t0.Add(4 * time.Second)
	for _, tc := range []struct {
		replay uint64
		want   time.Duration
	}{{300, 0}, {350, 0}, {250, time.Second}, {150, 2 * time.Second}, {50, 4 * time.Second}} {
		if got := h.lag(tc.replay, now); got != tc.want {
			t.Errorf("lag(%d) = %v, want %v", tc.replay, got, tc.want)
		}
	}
}
