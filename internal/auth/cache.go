package auth

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/rowgate/rowgate/internal/todo"
)

// tokenCache remembers tokens that passed full verification, keyed by the
// SHA-256 of the token, until their exp. It holds at most size entries in
// two generations: when the young one fills, the old one is dropped and the
// young one ages. A hit in the old generation moves the entry back to the
// young one, so tokens in use survive. All methods are safe for concurrent
// use, and a nil *tokenCache is a cache that never hits.
type tokenCache struct {
	mu      sync.Mutex
	genSize int
	young   map[[sha256.Size]byte]cacheEntry
	old     map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	caller todo.Caller
	exp    time.Time
}

// newTokenCache returns a cache of at most size entries (two when size is
// one), or nil when size is not positive.
func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	gen := max(size/2, 1)
	return &tokenCache{
		genSize: gen,
		young:   make(map[[sha256.Size]byte]cacheEntry, gen),
		old:     map[[sha256.Size]byte]cacheEntry{},
	}
}

func cacheKey(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// get returns the caller of a verified token while now is strictly before
// the token's exp. No skew is granted: past exp, the token must verify
// afresh, where the skew rule applies.
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (todo.Caller, bool) {
	if c == nil {
		return todo.Caller{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.young[key]
	if !ok {
		if e, ok = c.old[key]; ok {
			delete(c.old, key)
			c.putLocked(key, e)
		}
	}
	if !ok {
		return todo.Caller{}, false
	}
	if !now.Before(e.exp) {
		delete(c.young, key)
		return todo.Caller{}, false
	}
	return e.caller, true
}

// put stores a fully verified token's caller until exp.
func (c *tokenCache) put(key [sha256.Size]byte, caller todo.Caller, exp time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(key, cacheEntry{caller: caller, exp: exp})
}

func (c *tokenCache) putLocked(key [sha256.Size]byte, e cacheEntry) {
	if _, ok := c.young[key]; !ok && len(c.young) >= c.genSize {
		c.old = c.young
		c.young = make(map[[sha256.Size]byte]cacheEntry, c.genSize)
	}
	c.young[key] = e
}

// len reports how many entries the cache holds; for tests.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.young) + len(c.old)
}
