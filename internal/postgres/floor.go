package postgres

import (
	"encoding/base64"
	"encoding/binary"
	"sync"
	"time"
)

// floor is where a caller's last acknowledged write left the primary: its
// WAL insert position just after the commit, on a timeline, of a cluster
// (its system identifier). A replica that has replayed up to the floor on
// the same timeline has the write.
type floor struct {
	system   uint64
	timeline uint32
	lsn      uint64
}

func (f floor) zero() bool { return f.lsn == 0 }

// covers reports whether f is at least g: same cluster and timeline, and
// no earlier position. Floors of different timelines are not comparable.
func (f floor) covers(g floor) bool {
	return f.system == g.system && f.timeline == g.timeline && f.lsn >= g.lsn
}

// A Consistency-Token is the floor, opaque to clients:
//
//	base64url( version(1) | system identifier(8) | timeline(4) | lsn(8) )
//
// It is not signed: a forged or altered token can only name a floor that
// no replica has reached (the read goes to the primary) or one every
// replica has (as if no token were sent). It grants nothing.
const (
	tokenVersion = 1
	tokenLen     = 1 + 8 + 4 + 8
)

func (f floor) token() string {
	var b [tokenLen]byte
	b[0] = tokenVersion
	binary.BigEndian.PutUint64(b[1:9], f.system)
	binary.BigEndian.PutUint32(b[9:13], f.timeline)
	binary.BigEndian.PutUint64(b[13:], f.lsn)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// parseToken reads a token; ok is false for anything malformed, which
// the caller treats as "unknown floor" (the read goes to the primary).
func parseToken(s string) (f floor, ok bool) {
	if len(s) != base64.RawURLEncoding.EncodedLen(tokenLen) {
		return floor{}, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != tokenLen || b[0] != tokenVersion {
		return floor{}, false
	}
	f = floor{system: binary.BigEndian.Uint64(b[1:9]), timeline: binary.BigEndian.Uint32(b[9:13]), lsn: binary.BigEndian.Uint64(b[13:])}
	return f, f.lsn != 0
}

// floors remembers, per caller, the floor of their last write, so their
// reads go only where that write is visible. Memory is bounded: an entry
// is forgotten once every replica in rotation has replayed past it, or
// once it is older than the longest lag a replica in rotation may have
// (then every such replica has it, too). Should the map fill up anyway,
// every read goes to the primary until the overflow has aged out: never a
// stale read, only a slower one.
type floors struct {
	mu        sync.Mutex
	byCaller  map[string]floorEntry
	max       int
	maxAge    time.Duration
	saturated time.Time // reads go to the primary until then
}

type floorEntry struct {
	floor
	at time.Time
}

func newFloors(max int, maxAge time.Duration) *floors {
	return &floors{byCaller: map[string]floorEntry{}, max: max, maxAge: maxAge}
}

// remember records caller's newest floor.
func (fs *floors) remember(caller string, f floor, now time.Time) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if _, ok := fs.byCaller[caller]; !ok && len(fs.byCaller) >= fs.max {
		fs.saturated = now.Add(fs.maxAge)
		return
	}
	fs.byCaller[caller] = floorEntry{f, now}
}

// get returns caller's remembered floor; primaryOnly is true while the
// map overflowed, when a caller's floor may have gone unrecorded.
func (fs *floors) get(caller string, now time.Time) (f floor, primaryOnly bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	e, ok := fs.byCaller[caller]
	if ok && now.Sub(e.at) > fs.maxAge {
		delete(fs.byCaller, caller)
		e, ok = floorEntry{}, false
	}
	return e.floor, now.Before(fs.saturated) && !ok
}

// forget drops every floor that reached covers, and every one older than
// maxAge, and reports how many remain.
func (fs *floors) forget(reached func(floor) bool, now time.Time) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for caller, e := range fs.byCaller {
		if now.Sub(e.at) > fs.maxAge || reached(e.floor) {
			delete(fs.byCaller, caller)
		}
	}
	return len(fs.byCaller)
}

func (fs *floors) len() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.byCaller)
}
