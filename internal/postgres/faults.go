package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

// stage says how far a failed batch got, which decides whether it may be
// sent again.
type stage uint8

const (
	// notSent: nothing reached PostgreSQL (no connection, the connection
	// was refused, or pgx failed before writing). Always safe to resend.
	notSent stage = iota
	// aborted: PostgreSQL reported an error before the implicit
	// transaction committed, so none of the batch took effect.
	aborted
	// unknown: the connection was lost after the batch was sent, or the
	// server ended it after the last statement: the batch may have
	// committed. Only a batch whose replay is harmless may be resent.
	unknown
)

// fault is a failed attempt to run a batch, with how far it got.
type fault struct {
	err   error
	stage stage
}

func (f *fault) Error() string { return f.err.Error() }
func (f *fault) Unwrap() error { return f.err }

// classifyAttempt decides the stage of a batch's error. lastDone reports
// whether the callback of the batch's last statement completed: after it,
// only the commit at Sync remains, and a server-side FATAL there may come
// after the commit.
func classifyAttempt(err error, lastDone bool) *fault {
	var pgErr *pgconn.PgError
	switch {
	case pgconn.SafeToRetry(err), errors.As(err, new(*pgconn.ConnectError)):
		return &fault{err, notSent}
	case errors.As(err, &pgErr) && !(lastDone && fatal(pgErr)):
		// An ERROR (or a FATAL while statements were still running)
		// aborts the implicit transaction: nothing committed.
		return &fault{err, aborted}
	}
	return &fault{err, unknown}
}

func fatal(e *pgconn.PgError) bool {
	s := e.SeverityUnlocalized
	if s == "" {
		s = e.Severity
	}
	return s == "FATAL" || s == "PANIC"
}

// transient reports a server-side refusal that a fresh connection, a
// moment later, can overcome: the server shutting down or starting up,
// too many connections, a serialization failure or deadlock, a server
// that has turned read-only (a demoted primary), or a connection-class
// error. Retrying anything else would get the same answer again.
func transient(e *pgconn.PgError) bool {
	switch e.Code {
	case pgerrcode.AdminShutdown, pgerrcode.CrashShutdown, pgerrcode.CannotConnectNow,
		pgerrcode.TooManyConnections, pgerrcode.ConfigurationLimitExceeded,
		pgerrcode.SerializationFailure, pgerrcode.DeadlockDetected,
		pgerrcode.ReadOnlySQLTransaction:
		return true
	}
	return pgerrcode.IsConnectionException(e.Code)
}

// statementCacheError reports the errors a transaction pooler causes when
// named prepared statements meet a server connection that does not have
// them, or has others of the same name (42P05, 26000), and the error a
// cached plan raises when its result type changed (0A000, raised by
// PostgreSQL's RevalidateCachedQuery; matched by routine, not message
// text, so a translated server is recognised too).
func statementCacheError(err error) bool {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case pgerrcode.DuplicatePreparedStatement, pgerrcode.InvalidSQLStatementName:
		return true
	case pgerrcode.FeatureNotSupported:
		return e.Routine == "RevalidateCachedQuery"
	}
	return false
}

// connectionLost reports an error that comes from the network or from a
// connection pgx had to close, as opposed to one PostgreSQL reported.
func connectionLost(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.As(err, new(*pgconn.ConnectError))
}

// retryable decides whether a failed attempt may run again on a fresh
// connection, given whether the batch is safe to replay.
func (f *fault) retryable(replaySafe bool) bool {
	if errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded) {
		return false // the request is over; nothing left to retry for
	}
	var pgErr *pgconn.PgError
	switch f.stage {
	case notSent:
		return !errors.As(f.err, &pgErr) || transient(pgErr)
	case aborted:
		return errors.As(f.err, &pgErr) && (transient(pgErr) || statementCacheError(pgErr))
	}
	return replaySafe
}
