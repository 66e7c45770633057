package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// remoteKeys is a JWKS fetched over HTTP. One fetch runs at a time, and
// fetches start at most once per minInterval whatever triggers them, so a
// flood of unknown kids costs the auth server one request per interval.
// A failed fetch keeps the previous set.
type remoteKeys struct {
	url         string
	logURL      string // url without any password, for logs
	client      *http.Client
	minInterval time.Duration
	interval    time.Duration
	log         *slog.Logger
	now         func() time.Time

	set  atomic.Pointer[keySet]
	gate chan struct{} // holding it means: may fetch, and may touch last
	last time.Time     // start of the latest fetch attempt

	life     context.Context // bounds every fetch after the first; ends at close
	stop     context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// startRemoteKeys fetches the JWKS once, bounded by ctx, then keeps it fresh
// in the background until close. A failed first fetch is logged, not
// returned: verification fails with ErrKeysUnavailable until a fetch works.
func startRemoteKeys(ctx context.Context, cfg Config, now func() time.Time) *remoteKeys {
	r := &remoteKeys{
		url:         cfg.JWKSURL,
		logURL:      redactURL(cfg.JWKSURL),
		client:      cfg.HTTPClient,
		minInterval: cfg.MinRefreshInterval,
		interval:    cfg.RefreshInterval,
		log:         cfg.Logger,
		now:         now,
		gate:        make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	r.life, r.stop = context.WithCancel(context.WithoutCancel(ctx))
	r.last = now()
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	if err := r.fetch(fctx); err != nil {
		r.log.Error("auth: JWKS unavailable at start; every token is rejected until a fetch succeeds",
			"url", r.logURL, "err", err)
	}
	go r.run()
	return r
}

func (r *remoteKeys) current() *keySet { return r.set.Load() }

// refresh fetches the JWKS unless a fetch started less than minInterval ago.
// Callers that arrive during a fetch wait for it (or for ctx) and then see
// its result. The fetch itself is not cancelled by ctx, only by close and
// fetchTimeout, so one impatient client cannot waste the shared attempt.
func (r *remoteKeys) refresh(ctx context.Context) bool {
	select {
	case r.gate <- struct{}{}:
	case <-ctx.Done():
		return true
	}
	defer func() { <-r.gate }()
	now := r.now()
	if !r.last.IsZero() && now.Sub(r.last) < r.minInterval {
		return true
	}
	r.last = now
	fctx, cancel := context.WithTimeout(r.life, fetchTimeout)
	defer cancel()
	if err := r.fetch(fctx); err != nil {
		r.log.Warn("auth: JWKS fetch failed; keeping the previous keys", "url", r.logURL, "err", err)
	}
	return true
}

func (r *remoteKeys) fetch(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	res, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", res.Status)
	}
	data, err := readBounded(res.Body)
	if err != nil {
		return err
	}
	set, err := parseKeySet(data, r.log)
	if err != nil {
		return err
	}
	if old := r.set.Swap(set); old == nil || old.kids() != set.kids() {
		r.log.Info("auth: JWKS loaded", "url", r.logURL, "kids", set.kids())
	}
	return nil
}

// run re-reads the JWKS every interval, or every minInterval while no set
// has ever loaded, until close.
func (r *remoteKeys) run() {
	defer close(r.done)
	t := time.NewTimer(r.wait())
	defer t.Stop()
	for {
		select {
		case <-r.life.Done():
			return
		case <-t.C:
			r.refresh(r.life)
			t.Reset(r.wait())
		}
	}
}

func (r *remoteKeys) wait() time.Duration {
	if r.set.Load() == nil {
		return r.minInterval
	}
	return r.interval
}

func (r *remoteKeys) close() {
	r.stopOnce.Do(func() {
		r.stop()
		<-r.done
	})
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Redacted()
}
