package ratelimit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func newLimiter[K comparable](t *testing.T, c Config) *Limiter[K] {
	t.Helper()
	l, err := New[K](c)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{
		{Rate: 0, Burst: 1}, {Rate: -1, Burst: 1}, {Rate: 1, Burst: 0},
		{Rate: 1, Burst: 1, MaxKeys: -1}, {Rate: math.Inf(1), Burst: 1}, {Rate: math.NaN(), Burst: 1},
	} {
		if _, err := New[string](c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

// TestBurstThenRefill: Burst requests pass at once, the next is refused
// with the time until a token is back, and a token comes back at Rate.
func TestBurstThenRefill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter[string](t, Config{Rate: 2, Burst: 3})
		for i := range 3 {
			d := l.Take("a")
			if !d.Allowed || d.Remaining != 2-i {
				t.Fatalf("take %d: %+v", i, d)
			}
		}
		d := l.Take("a")
		if d.Allowed || d.Remaining != 0 || d.RetryAfter != 500*time.Millisecond || d.Reset != 1500*time.Millisecond {
			t.Fatalf("over the burst: %+v", d)
		}
		time.Sleep(499 * time.Millisecond)
		if d := l.Take("a"); d.Allowed {
			t.Fatalf("a token back too early: %+v", d)
		}
		time.Sleep(time.Millisecond)
		if d := l.Take("a"); !d.Allowed || d.Remaining != 0 {
			t.Fatalf("no token after 1/Rate: %+v", d)
		}
		time.Sleep(10 * time.Second)
		if d := l.Take("a"); !d.Allowed || d.Remaining != 2 || d.Reset != 500*time.Millisecond {
			t.Fatalf("refilled bucket: %+v", d)
		}
	})
}

// TestKeysAreIndependent: draining one key leaves every other full.
func TestKeysAreIndependent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter[string](t, Config{Rate: 1, Burst: 5})
		for range 100 {
			l.Take("flood")
		}
		for i := range 1000 {
			if d := l.Take(fmt.Sprint("user", i)); !d.Allowed || d.Remaining != 4 {
				t.Fatalf("user%d: %+v", i, d)
			}
		}
	})
}

// TestRefund gives a taken token back, never beyond Burst.
func TestRefund(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter[string](t, Config{Rate: 1, Burst: 2})
		l.Take("a")
		l.Take("a")
		l.Refund("a")
		if d := l.Take("a"); !d.Allowed || d.Remaining != 0 {
			t.Fatalf("after a refund: %+v", d)
		}
		l.Refund("a")
		l.Refund("a")
		l.Refund("a")
		l.Take("a")
		l.Take("a")
		if d := l.Take("a"); d.Allowed {
			t.Fatalf("refunds filled the bucket beyond its burst: %+v", d)
		}
		l.Refund("unknown") // nothing to refund; must not create a key
		if n := l.Len(); n != 1 {
			t.Fatalf("Len = %d, want 1", n)
		}
	})
}

// TestPolicyGuarantee checks what RateLimit-Policy promises: a client that
// sends at most q = Burst requests in any window of w seconds is never
// refused, for whole and fractional rates.
func TestPolicyGuarantee(t *testing.T) {
	for _, c := range []Config{{Rate: 50, Burst: 100}, {Rate: 3, Burst: 10}, {Rate: 0.7, Burst: 2}, {Rate: 10, Burst: 1}, {Rate: 0.3, Burst: 3}, {Rate: 7, Burst: 21}} {
		t.Run(fmt.Sprintf("%gx%d", c.Rate, c.Burst), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				checkPolicyGuarantee(t, c)
			})
		})
	}
}

func checkPolicyGuarantee(t *testing.T, c Config) {
	l := newLimiter[int](t, c)
	w := c.Window()
	rng := rand.New(rand.NewPCG(1, uint64(c.Burst)))
	var sent []time.Time // times of the requests sent, oldest first
	start := time.Now()
	for time.Since(start) < 20*w {
		// Send as many as the window allows now, then wait a random time
		// that sometimes lands exactly on a window's end.
		now := time.Now()
		inWindow := 0
		for _, s := range sent {
			if now.Sub(s) < w {
				inWindow++
			}
		}
		n := rng.IntN(c.Burst - inWindow + 1)
		for range n {
			if d := l.Take(0); !d.Allowed {
				t.Fatalf("refused at %v with %d sent in the last %v: %+v", now.Sub(start), inWindow, w, d)
			}
			sent = append(sent, now)
		}
		if rng.IntN(3) == 0 && len(sent) > 0 {
			time.Sleep(sent[0].Add(w).Sub(now) % w)
		} else {
			time.Sleep(time.Duration(rng.Int64N(int64(w))))
		}
		for len(sent) > 0 && time.Since(sent[0]) >= w {
			sent = sent[1:]
		}
	}
}

// TestIdleBucketsAreDropped: buckets that refilled are forgotten when the
// shard sweeps, so memory follows active keys, not keys ever seen.
func TestIdleBucketsAreDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter[int](t, Config{Rate: 10, Burst: 10})
		for i := range 5000 {
			l.Take(i)
		}
		if n := l.Len(); n != 5000 {
			t.Fatalf("Len = %d, want 5000", n)
		}
		time.Sleep(sweepEvery)
		for i := range shardCount * 20 { // new keys reach every shard
			l.Take(-1 - i)
		}
		if n := l.Len(); n > shardCount*20 {
			t.Fatalf("Len = %d after the idle keys' sweep, want at most %d", n, shardCount*20)
		}
	})
}

// TestMaxKeysBound: however many distinct keys arrive, the Limiter never
// holds more than MaxKeys.
func TestMaxKeysBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter[int](t, Config{Rate: 1, Burst: 3, MaxKeys: 1000})
		for i := range 100_000 {
			l.Take(i)
			l.Take(i) // not idle: every bucket is still refilling
		}
		if n, m := l.Len(), l.MaxKeys(); n > m || m > 1000+shardCount {
			t.Fatalf("Len = %d, MaxKeys = %d", n, m)
		}
	})
}

// TestEvictionNeverStricter replays random traffic over more keys than the
// Limiter may hold, next to an unbounded model: at every moment, each key
// has been allowed at least as many requests as the model allowed it. (Not
// request by request: a key the bounded limiter let through once more can
// be refused once where the model is not, having spent that token.)
func TestEvictionNeverStricter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := Config{Rate: 5, Burst: 4, MaxKeys: shardCount * 4}
		bounded := newLimiter[int](t, c)
		model := newLimiter[int](t, Config{Rate: c.Rate, Burst: c.Burst, MaxKeys: 1 << 20})
		rng := rand.New(rand.NewPCG(7, 7))
		ahead := map[int]int{} // allowed by bounded minus allowed by model, per key
		for range 200_000 {
			k := rng.IntN(c.MaxKeys * 3)
			if bounded.Take(k).Allowed {
				ahead[k]++
			}
			if model.Take(k).Allowed {
				ahead[k]--
			}
			if ahead[k] < 0 {
				t.Fatalf("key %d: the bounded limiter allowed fewer requests than the model", k)
			}
			if rng.IntN(50) == 0 {
				time.Sleep(time.Duration(rng.Int64N(int64(100 * time.Millisecond))))
			}
		}
		looser := 0
		for _, n := range ahead {
			looser += n
		}
		if looser == 0 {
			t.Fatal("no eviction happened; the test does not test eviction")
		}
		t.Logf("the bounded limiter allowed %d requests more than the model", looser)
	})
}

// TestDrainedBucketIsEvictedLast: with its shard full, new keys evict
// idle buckets first, then the fullest of those still refilling, never a
// drained one while a fuller one is there, so a flood stays refused.
func TestDrainedBucketIsEvictedLast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter[int](t, Config{Rate: 0.01, Burst: 3, MaxKeys: shardCount * 8})
		const flood = -1
		for range 3 {
			l.Take(flood)
		}
		next := 0
		fill := func(refund bool) {
			for range l.MaxKeys() * 4 {
				l.Take(next)
				if refund {
					l.Refund(next) // full again: idle
				}
				next++
				if d := l.Take(flood); d.Allowed {
					t.Fatalf("after %d new keys, the drained key got a token: %+v", next, d)
				}
			}
		}
		fill(true)  // idle buckets go first
		fill(false) // then the fullest of those refilling
	})
}

// TestConcurrentTakes runs takes on shared and own keys from many
// goroutines (run with -race): a shared key never allows more than its
// burst while time stands still.
func TestConcurrentTakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter[string](t, Config{Rate: 1, Burst: 50})
		var mu sync.Mutex
		allowed := 0
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 100 {
					if l.Take("shared").Allowed {
						mu.Lock()
						allowed++
						mu.Unlock()
					}
					l.Take(fmt.Sprint(g, "/", i))
				}
			})
		}
		wg.Wait()
		if allowed != 50 {
			t.Fatalf("shared key allowed %d, want 50", allowed)
		}
	})
}
