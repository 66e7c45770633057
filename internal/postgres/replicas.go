package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Replica routing defaults.
const (
	DefaultReplicaMaxLag  = 10 * time.Second
	DefaultReplicaWait    = 100 * time.Millisecond
	DefaultReplicaMonitor = 250 * time.Millisecond
)

// walPosition is the primary's WAL insert position and timeline, read
// just after a write's commit (its floor) and by the monitor.
const walPosition = `select (l - '0/0')::bigint, ('x' || left(pg_walfile_name(l), 8))::bit(32)::bigint
from pg_current_wal_insert_lsn() l`

// replayPosition is a standby's state: still in recovery, and replayed up
// to where.
const replayPosition = `select pg_is_in_recovery(), coalesce((pg_last_wal_replay_lsn() - '0/0')::bigint, 0)`

// systemIdentifier names the cluster; a standby shares its primary's.
const systemIdentifier = `select system_identifier from pg_control_system()`

// replica is one streaming standby that reads may go to.
type replica struct {
	*server
	checked atomic.Bool // its safety checks passed
	refused atomic.Bool // its role could bypass RLS: never used
	state   atomic.Pointer[replicaState]
	reads   atomic.Int64
}

// replicaState is what the monitor last learnt of a replica.
type replicaState struct {
	inRotation bool
	why        string // why it is out of rotation
	replay     uint64 // replayed up to (only grows while it streams)
	lag        time.Duration
	moved      time.Time // when replay last advanced
	seen       time.Time
}

// ReplicaStats is a snapshot of one replica, for /metrics.
type ReplicaStats struct {
	Name       string
	InRotation bool
	Why        string // why it is out of rotation, or ""
	Lag        time.Duration
	Reads      int64
}

// RoutingStats counts where reads went.
type RoutingStats struct {
	PrimaryReads int64
	// Fallbacks counts reads sent to the primary although replicas are
	// configured, by reason: no replica in rotation, the caller's floor not
	// reached in time, a floor of another timeline, or floors not tracked.
	Fallbacks map[string]int64
	Replicas  []ReplicaStats
	// Floors is how many callers' floors are remembered now.
	Floors int
}

// Reasons a read goes to the primary although replicas are configured.
const (
	fallbackNoReplica    = "no_replica_in_rotation"
	fallbackFloor        = "floor_not_reached"
	fallbackTimeline     = "floor_of_another_timeline"
	fallbackSaturated    = "floors_not_tracked"
	fallbackFirstContact = "first_contact"
)

var fallbackReasons = []string{fallbackNoReplica, fallbackFloor, fallbackTimeline, fallbackSaturated, fallbackFirstContact}

// routing is the replica side of the door: the replicas, what the
// monitor knows of the primary, and the callers' floors.
type routing struct {
	replicas  []*replica
	floors    *floors
	maxLag    time.Duration
	wait      time.Duration
	interval  time.Duration
	system    atomic.Uint64 // the primary's system identifier, once known
	timeline  atomic.Uint32 // the primary's timeline, as last seen
	history   walHistory
	next      atomic.Uint64 // round robin
	primary   atomic.Int64  // reads that went to the primary
	fallbacks map[string]*atomic.Int64
	fatal     chan error // a replica whose role could bypass RLS
	stop      context.CancelFunc
	done      sync.WaitGroup
}

// ReplicaName is how a replica is named in logs and metrics: its hosts
// and ports, without user or password.
func ReplicaName(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		if cfgHost := hostParam(rawURL); cfgHost != "" {
			return cfgHost
		}
		return "replica"
	}
	return u.Host
}

func hostParam(raw string) string {
	if i := strings.Index(raw, "host="); i >= 0 {
		v := raw[i+5:]
		if j := strings.IndexAny(v, "& "); j >= 0 {
			v = v[:j]
		}
		return v
	}
	return ""
}

func newRouting(cfg Config) (*routing, error) {
	r := &routing{
		maxLag: cfg.ReplicaMaxLag, wait: cfg.ReplicaWait, interval: cfg.ReplicaMonitorInterval,
		fallbacks: map[string]*atomic.Int64{}, fatal: make(chan error, len(cfg.ReplicaURLs)),
	}
	r.floors = newFloors(1_000_000, r.maxLag+r.interval)
	for _, reason := range fallbackReasons {
		r.fallbacks[reason] = new(atomic.Int64)
	}
	for _, u := range cfg.ReplicaURLs {
		s, err := newServer(ReplicaName(u), u, cfg)
		if err != nil {
			r.close()
			return nil, err
		}
		rep := &replica{server: s}
		rep.state.Store(&replicaState{why: "not checked yet"})
		r.replicas = append(r.replicas, rep)
	}
	r.history.max = int(r.maxLag/r.interval) + 8
	return r, nil
}

func (r *routing) close() {
	if r.stop != nil {
		r.stop()
		r.done.Wait()
	}
	for _, rep := range r.replicas {
		rep.close()
	}
}

// start runs the monitor until close: every interval it reads the
// primary's WAL position, and each replica's state.
func (r *routing) start(primary *server, log *slog.Logger) {
	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	r.done.Go(func() {
		t := time.NewTicker(r.interval)
		defer t.Stop()
		for {
			r.tick(ctx, primary, log)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

func (r *routing) tick(ctx context.Context, primary *server, log *slog.Logger) {
	now := time.Now()
	tctx, cancel := context.WithTimeout(ctx, r.interval*4)
	defer cancel()
	var lsn, tl int64
	if err := primary.current().QueryRow(tctx, walPosition).Scan(&lsn, &tl); err == nil {
		if old := r.timeline.Swap(uint32(tl)); old != 0 && old != uint32(tl) {
			log.Warn("postgres: the primary is on a new timeline (a failover); floors of the old one send reads to the primary",
				slog.Int("from", int(old)), slog.Int("to", int(tl)))
		}
		r.history.add(now, uint64(lsn))
		if r.system.Load() == 0 {
			var sys int64
			if primary.current().QueryRow(tctx, systemIdentifier).Scan(&sys) == nil {
				r.system.Store(uint64(sys))
			}
		}
	}
	var wg sync.WaitGroup
	for _, rep := range r.replicas {
		wg.Go(func() { r.observe(tctx, rep, now, log) })
	}
	wg.Wait()
	r.floors.forget(r.reachedEverywhere, now)
}

// observe reads one replica's state and decides its place in rotation.
func (r *routing) observe(ctx context.Context, rep *replica, now time.Time, log *slog.Logger) {
	old := rep.state.Load()
	next := &replicaState{replay: old.replay, moved: old.moved, seen: now}
	switch err := r.check(ctx, rep); {
	case err != nil:
		next.why = err.Error()
	default:
		var inRecovery bool
		var replay int64
		if err := rep.current().QueryRow(ctx, replayPosition).Scan(&inRecovery, &replay); err != nil {
			if ctx.Err() != nil {
				return // the monitor is stopping
			}
			next.why = "unreachable: " + describe(err).Error()
			rep.health.failed(log, rep.name, err)
			break
		}
		rep.health.answered(log, rep.name)
		if uint64(replay) > next.replay {
			next.replay, next.moved = uint64(replay), now
		}
		next.lag = r.history.lag(next.replay, now)
		switch {
		case !inRecovery:
			next.why = "not in recovery: promoted, or not a standby"
		case next.lag > r.maxLag:
			next.why = fmt.Sprintf("%s behind, more than the %s allowed", next.lag.Round(time.Millisecond), r.maxLag)
		default:
			next.inRotation = true
		}
	}
	if ctx.Err() != nil {
		return // the monitor is stopping: what it saw says nothing of the replica
	}
	if old.inRotation != next.inRotation {
		if next.inRotation {
			log.Info("postgres: replica in rotation", slog.String("replica", rep.name), slog.Duration("lag", next.lag))
		} else {
			log.Warn("postgres: replica out of rotation", slog.String("replica", rep.name), slog.String("why", next.why))
		}
	}
	rep.state.Store(next)
}

// check runs the safety checks on a replica once, and that it is a
// standby of this primary. A role that could bypass RLS is fatal, as on
// the primary.
func (r *routing) check(ctx context.Context, rep *replica) error {
	switch {
	case rep.checked.Load():
		return nil
	case rep.refused.Load():
		return errRefusedReplica
	}
	err := checkRole(ctx, rep.current())
	var refused *RefusalError
	switch {
	case errors.As(err, &refused):
		rep.refused.Store(true)
		select {
		case r.fatal <- fmt.Errorf("replica %s: %w", rep.name, err):
		default:
		}
		return errRefusedReplica
	case err != nil:
		return errors.New("unreachable: " + describe(err).Error())
	}
	var sys int64
	if err := rep.current().QueryRow(ctx, systemIdentifier).Scan(&sys); err != nil {
		return errors.New("unreachable: " + describe(err).Error())
	}
	if want := r.system.Load(); want == 0 {
		return errors.New("waiting for the primary's system identifier")
	} else if uint64(sys) != want {
		return errors.New("not a standby of the primary (another system identifier)")
	}
	rep.checked.Store(true)
	return nil
}

var errRefusedReplica = errors.New("refused: its role could bypass row level security")

// floorOf is what a replica has reached, as a floor it covers: its replay
// position on the primary's timeline. (A standby that did not follow a
// failover leaves rotation once its lag passes the maximum.)
func (r *routing) floorOf(rep *replica) floor {
	return floor{system: r.system.Load(), timeline: r.timeline.Load(), lsn: rep.state.Load().replay}
}

// reachedEverywhere reports whether every replica in rotation has f.
func (r *routing) reachedEverywhere(f floor) bool {
	any := false
	for _, rep := range r.replicas {
		if !rep.state.Load().inRotation {
			continue
		}
		if !r.floorOf(rep).covers(f) {
			return false
		}
		any = true
	}
	return any
}

// pick chooses a replica for a read that needs floor need (zero: none).
// It returns nil, with the reason, when the read must go to the primary:
// no replica in rotation, or none reaches need within the bounded wait.
func (r *routing) pick(ctx context.Context, need floor, primaryOnly bool) (*replica, string) {
	if primaryOnly {
		return nil, fallbackSaturated
	}
	var inRotation, reached []*replica
	for _, rep := range r.replicas {
		if rep.state.Load().inRotation {
			inRotation = append(inRotation, rep)
			if need.zero() || r.floorOf(rep).covers(need) {
				reached = append(reached, rep)
			}
		}
	}
	switch {
	case len(reached) > 0:
		return reached[r.next.Add(1)%uint64(len(reached))], ""
	case len(inRotation) == 0:
		return nil, fallbackNoReplica
	case need.system != r.system.Load() || need.timeline != r.timeline.Load():
		return nil, fallbackTimeline
	}
	if rep := r.await(ctx, inRotation, need); rep != nil {
		return rep, ""
	}
	return nil, fallbackFloor
}

// await waits, at most r.wait, for a replica that is replaying to reach
// need, asking it directly every 2 milliseconds. A replica whose replay
// has not moved for a second (paused, or cut off) is not waited for.
func (r *routing) await(ctx context.Context, candidates []*replica, need floor) *replica {
	now := time.Now()
	candidates = slices.DeleteFunc(candidates, func(rep *replica) bool { return now.Sub(rep.state.Load().moved) > time.Second })
	if len(candidates) == 0 || r.wait <= 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, r.wait)
	defer cancel()
	for {
		for _, rep := range candidates {
			var inRecovery bool
			var replay int64
			if rep.current().QueryRow(wctx, replayPosition).Scan(&inRecovery, &replay) == nil && inRecovery && uint64(replay) >= need.lsn {
				return rep
			}
		}
		if !sleep(wctx, 2*time.Millisecond) {
			return nil
		}
	}
}

// serving reports whether some replica is in rotation.
func (r *routing) serving() bool {
	for _, rep := range r.replicas {
		if rep.state.Load().inRotation {
			return true
		}
	}
	return false
}

// fallback counts a read sent to the primary for reason.
func (r *routing) fallback(reason string) { r.fallbacks[reason].Add(1) }

// markDown takes a replica out of rotation at once, after a request found
// it unreachable; the monitor puts it back when it answers again.
func (rep *replica) markDown(why string) {
	if old := rep.state.Load(); old.inRotation {
		next := *old
		next.inRotation, next.why = false, why
		rep.state.CompareAndSwap(old, &next)
	}
}

func (r *routing) stats() RoutingStats {
	st := RoutingStats{PrimaryReads: r.primary.Load(), Fallbacks: map[string]int64{}, Floors: r.floors.len()}
	for reason, n := range r.fallbacks {
		st.Fallbacks[reason] = n.Load()
	}
	for _, rep := range r.replicas {
		s := rep.state.Load()
		st.Replicas = append(st.Replicas, ReplicaStats{Name: rep.name, InRotation: s.inRotation, Why: s.why, Lag: s.lag, Reads: rep.reads.Load()})
	}
	return st
}

// walHistory keeps recent samples of the primary's WAL position, to turn
// a replica's replay position into a lag in time: how long ago the
// primary had already gone past it.
type walHistory struct {
	mu      sync.Mutex
	samples []walSample
	max     int
}

type walSample struct {
	at  time.Time
	lsn uint64
}

func (h *walHistory) add(at time.Time, lsn uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.samples); n > 0 && h.samples[n-1].lsn == lsn {
		return // idle primary: the oldest sample at this position stands
	}
	h.samples = append(h.samples, walSample{at, lsn})
	if len(h.samples) > h.max {
		h.samples = h.samples[len(h.samples)-h.max:]
	}
}

// lag is at least how far behind a replay position is: the time since the
// first sample past it. Replayed up to the newest sample is no lag; past
// the oldest sample kept, the lag is at least the whole history.
func (h *walHistory) lag(replay uint64, now time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.samples {
		if s.lsn > replay {
			return now.Sub(s.at)
		}
	}
	return 0
}

// pinned is the floor of a write that committed but whose position was
// lost with its connection: no replica covers it, so the caller's reads
// go to the primary until it ages out.
func pinned(system uint64, timeline uint32) floor {
	return floor{system: system, timeline: timeline, lsn: math.MaxUint64}
}
