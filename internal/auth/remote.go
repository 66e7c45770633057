package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// remoteKeys is a JWKS fetched over HTTP and kept fresh in the background.
// It is hand-written rather than built on jwx's jwk.Cache (httprc v1),
// which refetches on every Refresh call with no rate limit, makes callers
// wait for the whole fetch, retries a failure only at the next refresh
// interval, and reports failures only to an error sink; adding those
// around it would take more code than this. It guarantees:
//
//   - A set that loaded is replaced only by a set with a usable key: an
//     endpoint that refuses, hangs, fails or answers garbage leaves the
//     previous set in place for as long as that lasts.
//   - One fetch runs at a time, bounded by fetchTimeout. Once a set has
//     loaded, fetches start at most once per minInterval whatever triggers
//     them, so a flood of unknown kids costs the endpoint one request per
//     interval.
//   - A caller waits at most wait for an on-demand fetch; the fetch goes on
//     for later callers.
//   - After a failure the background retries with capped, jittered
//     exponential backoff: from startRetryMin to startRetryMax until a set
//     loads, from minInterval to maxRetry afterwards. While fetches succeed
//     it re-reads the set every interval.
type remoteKeys struct {
	url    string
	logURL string // url without any password, for logs and Ready
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	timing remoteTiming

	set     atomic.Pointer[keySet]
	changed chan struct{} // buffered 1: an attempt ended, so run reschedules

	mu           sync.Mutex
	running      chan struct{} // closed when the attempt in flight ends; nil if none
	started      time.Time     // start of the latest attempt
	gateAt       time.Time     // on-demand attempts may start from here
	dueAt        time.Time     // the background attempt is due here
	failingSince time.Time     // start of the first failed attempt of a run
	lastErr      *fetchError   // cause of the latest failure; nil after a success
	stats        KeyStats

	life     context.Context // bounds every fetch; ends at close
	stop     context.CancelFunc
	attempts sync.WaitGroup
	done     chan struct{} // closed when run returns
	stopOnce sync.Once
}

// remoteTiming is the schedule of a remoteKeys, from Config.
type remoteTiming struct {
	minInterval, interval, maxRetry time.Duration
	fetchTimeout, wait              time.Duration
}

// startRemoteKeys starts the first fetch and the background refresh, then
// waits for the first fetch at most cfg.RefreshWait (or until ctx ends).
// A first fetch that fails or is still running is not an error: until a set
// loads, verification fails with ErrKeysUnavailable and ready says why.
func startRemoteKeys(ctx context.Context, cfg Config, now func() time.Time) *remoteKeys {
	r := &remoteKeys{
		url:    cfg.JWKSURL,
		logURL: redactURL(cfg.JWKSURL),
		client: cfg.HTTPClient,
		log:    cfg.Logger,
		now:    now,
		timing: remoteTiming{
			minInterval: cfg.MinRefreshInterval, interval: cfg.RefreshInterval, maxRetry: cfg.MaxRetryInterval,
			fetchTimeout: cfg.FetchTimeout, wait: cfg.RefreshWait,
		},
		changed: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	r.life, r.stop = context.WithCancel(context.WithoutCancel(ctx))
	first := r.trigger(false)
	go r.run()
	r.await(ctx, first)
	return r
}

func (r *remoteKeys) current() *keySet { return r.set.Load() }

// refresh starts a fetch if the rate limit allows one, or joins the fetch
// in flight, and waits for it at most timing.wait or until ctx ends.
func (r *remoteKeys) refresh(ctx context.Context) bool {
	r.await(ctx, r.trigger(false))
	return true
}

// trigger starts a fetch unless one is running or the schedule forbids it
// now: the rate limit (gateAt) for on-demand callers, the background
// schedule (dueAt) for run. It returns a channel that closes when the
// running fetch ends, or nil when none runs.
func (r *remoteKeys) trigger(background bool) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running != nil || r.life.Err() != nil {
		return r.running
	}
	now, at := r.now(), r.gateAt
	if background {
		at = r.dueAt
	}
	if now.Before(at) {
		return nil
	}
	r.started, r.running = now, make(chan struct{})
	r.stats.Fetches++
	r.attempts.Add(1)
	go r.attempt()
	return r.running
}

// await waits for ch to close, at most timing.wait or until ctx ends.
func (r *remoteKeys) await(ctx context.Context, ch <-chan struct{}) {
	if ch == nil {
		return
	}
	t := time.NewTimer(r.timing.wait)
	defer t.Stop()
	select {
	case <-ch:
	case <-ctx.Done():
	case <-t.C:
	}
}

// attempt runs one fetch, bounded by fetchTimeout and close, and records
// its outcome.
func (r *remoteKeys) attempt() {
	defer r.attempts.Done()
	ctx, cancel := context.WithTimeout(r.life, r.timing.fetchTimeout)
	set, err := r.safeFetch(ctx)
	cancel()
	r.finish(set, err)
}

// safeFetch is fetch with a panic (say, in parsing a hostile document)
// turned into a failed attempt, so the schedule and its waiters go on.
func (r *remoteKeys) safeFetch(ctx context.Context) (set *keySet, ferr *fetchError) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("auth: panic while fetching the JWKS", "panic", p, "stack", string(debug.Stack()))
			set, ferr = nil, &fetchError{failParse, errors.New("panic while reading the JWKS")}
		}
	}()
	return r.fetch(ctx)
}

// finish records the outcome of the attempt in flight, and only then
// releases its waiters, so that they see the new set.
func (r *remoteKeys) finish(set *keySet, err *fetchError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() { close(r.running); r.running = nil }()
	switch {
	case err == nil:
		r.succeeded(set)
	case r.life.Err() != nil:
		return // cut short by close: says nothing about the endpoint
	default:
		r.failed(err)
	}
	r.schedule()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// succeeded installs set and logs what changed: new kids, or a recovery.
func (r *remoteKeys) succeeded(set *keySet) {
	now, failed := r.now(), r.stats.ConsecutiveFailures
	old := r.set.Swap(set)
	switch {
	case old == nil || old.kids() != set.kids():
		r.log.Info("auth: JWKS loaded", "url", r.logURL, "kids", set.kids(), "failed_attempts", failed)
	case failed > 0:
		r.log.Info("auth: JWKS fetch works again", "url", r.logURL, "failed_attempts", failed,
			"failing_for", now.Sub(r.failingSince).Round(time.Millisecond).String())
	}
	r.stats.ConsecutiveFailures, r.stats.LastSuccess, r.lastErr = 0, now, nil
}

// failed counts a failure and logs only the first of a run; the others go
// to debug, so an outage of hours writes one warning.
func (r *remoteKeys) failed(err *fetchError) {
	r.stats.ConsecutiveFailures++
	r.stats.Failures.add(err.class)
	r.stats.LastFailure, r.lastErr = r.now(), err
	n := r.stats.ConsecutiveFailures
	switch {
	case n > 1:
		r.log.Debug("auth: JWKS fetch failed again", "url", r.logURL, "err", err.Error(), "failed_attempts", n)
	case r.set.Load() == nil:
		r.failingSince = r.started
		r.log.Error("auth: JWKS unavailable; every token is rejected until a fetch succeeds; retrying",
			"url", r.logURL, "err", err.Error())
	default:
		r.failingSince = r.started
		r.log.Warn("auth: JWKS fetch failing; keeping the previous keys and retrying",
			"url", r.logURL, "err", err.Error())
	}
}

// schedule sets when the next on-demand and background attempts may start,
// counted from the start of the latest attempt.
func (r *remoteKeys) schedule() {
	t, n := r.timing, r.stats.ConsecutiveFailures
	switch {
	case n == 0:
		r.gateAt, r.dueAt = r.started.Add(t.minInterval), r.started.Add(t.interval)
	case r.set.Load() != nil:
		r.gateAt = r.started.Add(t.minInterval)
		r.dueAt = r.started.Add(backoff(n, t.minInterval, t.maxRetry, t.minInterval))
	default:
		r.gateAt = r.started.Add(backoff(n, startRetryMin, startRetryMax, 0))
		r.dueAt = r.gateAt
	}
}

// fetch reads and parses the JWKS once. Every failure is classified.
func (r *remoteKeys) fetch(ctx context.Context) (*keySet, *fetchError) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, &fetchError{failNetwork, err}
	}
	req.Header.Set("Accept", "application/json")
	res, err := r.client.Do(req)
	if err != nil {
		return nil, transportFailure(err, r.timing.fetchTimeout)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, &fetchError{failStatus, fmt.Errorf("answered %s", res.Status)}
	}
	data, err := readBounded(res.Body)
	switch {
	case errors.Is(err, errJWKSTooLarge):
		return nil, &fetchError{failParse, err}
	case err != nil:
		return nil, transportFailure(err, r.timing.fetchTimeout)
	}
	set, err := parseKeySet(data, r.log)
	if err != nil {
		return nil, &fetchError{failParse, err}
	}
	return set, nil
}

// run starts the background attempts when they are due, until close.
func (r *remoteKeys) run() {
	defer close(r.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		if wait, idle := r.untilDue(); idle {
			t.Reset(wait)
		} else {
			t.Stop() // an attempt is running; its end signals changed
		}
		select {
		case <-r.life.Done():
			return
		case <-r.changed:
		case <-t.C:
			r.trigger(true)
		}
	}
}

// untilDue is how long until the background attempt is due, and false when
// an attempt is running.
func (r *remoteKeys) untilDue() (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running != nil {
		return 0, false
	}
	return max(r.dueAt.Sub(r.now()), 0), true
}

// ready is nil once a set has loaded; before, it says what the last attempt
// met.
func (r *remoteKeys) ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.set.Load() != nil:
		return nil
	case r.lastErr == nil:
		return &keysNotReadyError{url: r.logURL, reason: "first fetch not finished"}
	default:
		return &keysNotReadyError{url: r.logURL,
			reason: fmt.Sprintf("%s (%d failed attempts)", r.lastErr, r.stats.ConsecutiveFailures)}
	}
}

func (r *remoteKeys) keyStats() KeyStats {
	r.mu.Lock()
	s := r.stats
	r.mu.Unlock()
	s.Remote = true
	if set := r.set.Load(); set != nil {
		s.Loaded, s.Keys = true, len(set.all)
	}
	return s
}

// close stops the background refresh, cancels the fetch in flight and
// waits for both to end.
func (r *remoteKeys) close() {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.stop()
		r.mu.Unlock()
		<-r.done
		r.attempts.Wait()
	})
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Redacted()
}
