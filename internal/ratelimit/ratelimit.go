// Package ratelimit is a keyed token bucket: one bucket per key (a user id,
// a client address), kept in shards so that two keys rarely share a lock,
// with a bound on how many keys it holds.
//
// # Why not golang.org/x/time/rate
//
// A rate.Limiter per key would do the arithmetic, but the anonymous limit
// needs to give a token back when a request turns out to carry a valid
// token (Refund), and rate.Reservation.CancelAt restores nothing once the
// reservation's time has passed, which it has by the time the token is
// verified. A rate.Limiter also holds its own mutex and about 80 bytes,
// where the shard's lock already serialises access and a bucket here is 16
// bytes, which matters for the bound on keys. The bucket below is the
// textbook one (tokens and the time they were counted); its tests check it
// against the guarantee it advertises.
//
// # Eviction
//
// A bucket that has refilled to its burst is indistinguishable from a new
// one, so forgetting it changes no decision: such buckets are idle, and a
// shard drops them every sweepEvery and when it is full. When a shard is
// still full (or swept less than minSweepGap ago), it evicts the fullest
// of a few buckets sampled: an idle one if the sample holds one, else one
// that is still refilling. The evicted key comes back with a full bucket,
// so eviction never makes a limit stricter (at every moment, each key has
// been allowed at least as many requests as with unbounded memory;
// TestEvictionNeverStricter) and makes it looser by at most one burst per
// eviction. A drained bucket (one being flooded) goes only when every
// bucket sampled is as drained: for its flood to get through, the attacker
// needs more keys refilling at once than the limiter holds, that is more
// than MaxKeys distinct users or addresses within one refill time
// (Burst/Rate), and with that many keys the per-key limit already allows
// them MaxKeys times the rate.
package ratelimit

import (
	"errors"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// DefaultMaxKeys bounds the keys a Limiter holds when Config.MaxKeys is
// zero: with the bucket, the map entry and a key of about 40 bytes, about
// 7 MiB at most.
const DefaultMaxKeys = 1 << 16

// shardCount is a power of two; 64 shards on a few cores make it unlikely
// that two requests in flight wait for the same lock.
const shardCount = 64

// sweepEvery is how often a shard that is taking new keys drops its idle
// buckets; a full shard sweeps at most every minSweepGap, and in between
// evicts by sampling, so that a flood of new keys cannot make every insert
// walk the shard under its lock.
const (
	sweepEvery  = 30 * time.Second
	minSweepGap = time.Second
)

// evictSample is how many buckets a full shard looks at to pick the one to
// evict when none is idle.
const evictSample = 8

// Config is a token bucket: Burst tokens at most, refilled at Rate tokens a
// second; a request takes one.
type Config struct {
	Rate    float64
	Burst   int
	MaxKeys int // 0 means DefaultMaxKeys
}

// Decision is what Take decided for one request.
type Decision struct {
	// Allowed reports whether a token was taken.
	Allowed bool
	// Remaining is the number of whole tokens left after this request.
	Remaining int
	// RetryAfter, when the request was refused, is the time until a token
	// is back; zero when it was allowed.
	RetryAfter time.Duration
	// Reset is the time until the bucket is full again, that is until
	// Burst requests in a row would be allowed.
	Reset time.Duration
}

// Limiter holds one token bucket per key. It is safe for concurrent use.
type Limiter[K comparable] struct {
	rate     float64 // tokens per second
	burst    float64
	perShard int
	seed     maphash.Seed
	epoch    time.Time
	shards   [shardCount]shard[K]
}

type shard[K comparable] struct {
	mu        sync.Mutex
	m         map[K]*bucket
	lastSweep int64
	_         [40]byte // keeps each shard on its own cache line
}

// New returns a Limiter for c. It fails unless Rate is positive and finite
// and Burst is at least 1.
func New[K comparable](c Config) (*Limiter[K], error) {
	if !(c.Rate > 0) || math.IsInf(c.Rate, 1) || c.Burst < 1 || c.MaxKeys < 0 {
		return nil, errors.New("ratelimit: need a positive finite rate, a burst of at least 1 and MaxKeys >= 0")
	}
	maxKeys := c.MaxKeys
	if maxKeys == 0 {
		maxKeys = DefaultMaxKeys
	}
	l := &Limiter[K]{
		rate:     c.Rate,
		burst:    float64(c.Burst),
		perShard: max(1, (maxKeys+shardCount-1)/shardCount),
		seed:     maphash.MakeSeed(),
		epoch:    time.Now(),
	}
	for i := range l.shards {
		l.shards[i].m = make(map[K]*bucket)
	}
	return l, nil
}

// Take takes a token from key's bucket if it has one.
func (l *Limiter[K]) Take(key K) Decision {
	now := l.now()
	s := l.shard(key)
	s.mu.Lock()
	b := s.m[key]
	if b == nil {
		b = l.insert(s, key, now)
	}
	ok := b.take(now, l.rate, l.burst)
	tokens := b.tokens
	s.mu.Unlock()
	return l.decision(ok, tokens)
}

// Refund gives back the token a Take of key took, never filling the bucket
// beyond Burst. Refunding a key that was evicted meanwhile does nothing:
// its next bucket starts full.
func (l *Limiter[K]) Refund(key K) {
	now := l.now()
	s := l.shard(key)
	s.mu.Lock()
	if b := s.m[key]; b != nil {
		b.refill(now, l.rate, l.burst)
		b.tokens = min(l.burst, b.tokens+1)
	}
	s.mu.Unlock()
}

// Len returns how many keys the Limiter holds, idle ones included.
func (l *Limiter[K]) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// MaxKeys returns the most keys the Limiter ever holds.
func (l *Limiter[K]) MaxKeys() int { return l.perShard * shardCount }

func (l *Limiter[K]) now() int64 { return int64(time.Since(l.epoch)) }

func (l *Limiter[K]) shard(key K) *shard[K] {
	return &l.shards[maphash.Comparable(l.seed, key)&(shardCount-1)]
}

func (l *Limiter[K]) decision(ok bool, tokens float64) Decision {
	d := Decision{Allowed: ok, Remaining: int(tokens), Reset: l.duration(l.burst - tokens)}
	if !ok {
		d.RetryAfter = l.duration(1 - tokens)
	}
	return d
}

// duration is how long refilling n tokens takes, rounded up.
func (l *Limiter[K]) duration(n float64) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(n / l.rate * 1e9))
}

// insert adds a full bucket for key, first making room if the shard is
// full (see the package documentation). The caller holds s.mu.
func (l *Limiter[K]) insert(s *shard[K], key K, now int64) *bucket {
	full := len(s.m) >= l.perShard
	if since := now - s.lastSweep; since >= int64(sweepEvery) || full && since >= int64(minSweepGap) {
		l.sweep(s, now)
	}
	if len(s.m) >= l.perShard {
		l.evictFullest(s, now)
	}
	b := &bucket{tokens: l.burst, last: now}
	s.m[key] = b
	return b
}

// sweep drops the shard's idle buckets: those that have refilled to Burst.
func (l *Limiter[K]) sweep(s *shard[K], now int64) {
	s.lastSweep = now
	for k, b := range s.m {
		if b.idle(now, l.rate, l.burst) {
			delete(s.m, k)
		}
	}
}

// evictFullest drops the bucket with the most tokens among a few of the
// shard's (map iteration starts at a random place).
func (l *Limiter[K]) evictFullest(s *shard[K], now int64) {
	var victim K
	best, seen := -1.0, 0
	for k, b := range s.m {
		b.refill(now, l.rate, l.burst)
		if b.tokens > best {
			victim, best = k, b.tokens
		}
		if seen++; seen == evictSample {
			break
		}
	}
	delete(s.m, victim)
}

// bucket is a token bucket: tokens as counted at last (nanoseconds since
// the Limiter's epoch, a monotonic clock).
type bucket struct {
	tokens float64
	last   int64
}

func (b *bucket) refill(now int64, rate, burst float64) {
	if now > b.last {
		b.tokens = min(burst, b.tokens+refilled(now-b.last, rate))
		b.last = now
	}
}

// refilled is how many tokens come back in ns nanoseconds at rate a
// second; exact when rate and the seconds are whole numbers.
func refilled(ns int64, rate float64) float64 { return float64(ns) * rate / 1e9 }

// take takes a token if the bucket holds one, within a rounding error
// (a millionth of a token), so that a refill that should be exact is.
func (b *bucket) take(now int64, rate, burst float64) bool {
	b.refill(now, rate, burst)
	if b.tokens < 1-roundingSlack {
		return false
	}
	b.tokens = max(0, b.tokens-1)
	return true
}

const roundingSlack = 1e-6

// idle reports whether the bucket has refilled to burst by now, without
// changing it.
func (b *bucket) idle(now int64, rate, burst float64) bool {
	return b.tokens+refilled(now-b.last, rate) >= burst-roundingSlack
}
