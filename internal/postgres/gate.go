package postgres

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowgate/rowgate/internal/todo"
)

// gate is shut until the safety checks pass once; the door waits on it.
type gate struct {
	open chan struct{}
	once sync.Once
	why  atomic.Pointer[error] // what it waits for, for /readyz
}

var errNotChecked = errors.New("safety checks not run yet")

func (g *gate) init() {
	g.open = make(chan struct{})
	g.why.Store(&errNotChecked)
}

func (g *gate) openUp()             { g.once.Do(func() { close(g.open) }) }
func (g *gate) setReason(err error) { g.why.Store(&err) }
func (g *gate) reason() error       { return *g.why.Load() }

func (g *gate) isOpen() bool {
	select {
	case <-g.open:
		return true
	default:
		return false
	}
}

// wait returns nil once the gate is open, or ErrUnavailable when ctx ends
// first.
func (g *gate) wait(ctx context.Context) error {
	select {
	case <-g.open:
		return nil
	default:
	}
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return errors.Join(todo.ErrUnavailable, g.reason(), ctx.Err())
	}
}

// health remembers whether a server last answered, so that a changes of
// state is logged once, not every failed request.
type health struct {
	down  atomic.Bool
	since atomic.Int64 // unix nanoseconds of the first failure
}

func (h *health) failed(log *slog.Logger, server string, err error) {
	if h.down.CompareAndSwap(false, true) {
		h.since.Store(time.Now().UnixNano())
		log.Warn("postgres: server unreachable; retrying within each request's deadline",
			slog.String("server", server), slog.String("reason", describe(err).Error()), slog.Any("err", err))
	}
}

func (h *health) answered(log *slog.Logger, server string) {
	if h.down.Load() && h.down.CompareAndSwap(true, false) {
		log.Info("postgres: server reachable again", slog.String("server", server),
			slog.Duration("down_for", time.Since(time.Unix(0, h.since.Load()))))
	}
}

// describe turns a connection error into words safe to show on /readyz:
// what happened, never PostgreSQL's own message text.
func describe(err error) error {
	var pgErr *pgconn.PgError
	var netErr net.Error
	switch {
	case errors.As(err, &pgErr):
		return errors.New("the server refused with SQLSTATE " + pgErr.Code)
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT):
		return errors.New("connection refused")
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return errors.New("connection reset")
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return errors.New("timed out")
	case errors.Is(err, errNotChecked):
		return err
	}
	return errors.New("unreachable")
}

// Retry pacing: full jitter over an exponential ceiling, so that many
// requests retrying at once spread out, and a server that comes back is
// used within retryCap.
const (
	retryBase    = 20 * time.Millisecond
	retryCap     = 500 * time.Millisecond
	retryReserve = 50 * time.Millisecond // left to answer 503 before the deadline
)

func retryDelay(attempt int) time.Duration {
	return jitter(min(retryCap, retryBase<<min(attempt, 10)))
}

func jitter(d time.Duration) time.Duration { return rand.N(d + 1) }

// sleep waits d, or returns false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// pause waits before retry number attempt, unless the wait would leave no
// time to try again before ctx's deadline.
func pause(ctx context.Context, attempt int) bool {
	d := retryDelay(attempt)
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d+retryReserve {
		return false
	}
	return sleep(ctx, d)
}
