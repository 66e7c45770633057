package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestFaultRetryable pins the rule of what may be sent again: anything
// PostgreSQL cannot have executed; a batch whose outcome is unknown only
// when it is safe to replay.
func TestFaultRetryable(t *testing.T) {
	pg := func(code, severity string) error {
		return &pgconn.PgError{Code: code, Severity: severity, SeverityUnlocalized: severity}
	}
	lost := fmt.Errorf("read: %w", &net.OpError{Op: "read", Err: syscall.ECONNRESET})
	cases := []struct {
		name        string
		err         error
		lastDone    bool
		wantStage   stage
		read, write bool // retryable for a read, for a plain write
	}{
		{"ConnectRefused", &pgconn.ConnectError{Config: &pgconn.Config{}}, false, notSent, true, true},
		{"StartingUp57P03", fmt.Errorf("connect: %w", pg("57P03", "FATAL")), false, aborted, true, true},
		{"AdminShutdownBeforeCommit", pg("57P01", "FATAL"), false, aborted, true, true},
		{"AdminShutdownAfterLastStatement", pg("57P01", "FATAL"), true, unknown, true, false},
		{"TooManyConnections", pg("53300", "FATAL"), false, aborted, true, true},
		{"ReadOnlyAfterDemotion", pg("25006", "ERROR"), false, aborted, true, true},
		{"SerializationFailure", pg("40001", "ERROR"), true, aborted, true, true},
		{"PreparedStatementMissing", pg("26000", "ERROR"), false, aborted, true, true},
		{"CheckViolationIsFinal", pg("23514", "ERROR"), false, aborted, false, false},
		{"RLSViolationIsFinal", pg("42501", "ERROR"), true, aborted, false, false},
		{"ResetMidFlight", lost, false, unknown, true, false},
		{"EOFMidFlight", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), true, unknown, true, false},
		{"DeadlineIsFinal", fmt.Errorf("x: %w", context.DeadlineExceeded), false, unknown, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := classifyAttempt(tc.err, tc.lastDone)
			if f.stage != tc.wantStage {
				t.Errorf("stage %d, want %d", f.stage, tc.wantStage)
			}
			if got := f.retryable(reads.replaySafe()); got != tc.read {
				t.Errorf("read retryable = %v, want %v", got, tc.read)
			}
			if got := f.retryable(writes.replaySafe()); got != tc.write {
				t.Errorf("write retryable = %v, want %v", got, tc.write)
			}
			if got := f.retryable(keyedWrite.replaySafe()); got != tc.read {
				t.Errorf("keyed write retryable = %v, want %v (as a read)", got, tc.read)
			}
		})
	}
}

// TestStatementCacheErrorByRoutine: the changed-result-type error is known
// by SQLSTATE and routine, whatever language the server speaks.
func TestStatementCacheErrorByRoutine(t *testing.T) {
	for _, tc := range []struct {
		err  *pgconn.PgError
		want bool
	}{
		{&pgconn.PgError{Code: "42P05"}, true},
		{&pgconn.PgError{Code: "26000"}, true},
		{&pgconn.PgError{Code: "0A000", Routine: "RevalidateCachedQuery", Message: "le plan en cache ne doit pas modifier le type en résultat"}, true},
		{&pgconn.PgError{Code: "0A000", Routine: "transformSelectStmt"}, false},
		{&pgconn.PgError{Code: "23505"}, false},
	} {
		if got := statementCacheError(tc.err); got != tc.want {
			t.Errorf("%s/%s: %v, want %v", tc.err.Code, tc.err.Routine, got, tc.want)
		}
	}
	if statementCacheError(errors.New("42P05")) {
		t.Error("a plain error matched by its text")
	}
}
