package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowgate/rowgate/internal/todo"
)

// classify maps a driver error to a domain error by SQLSTATE, never by
// message text. Every fault of the database or the network is
// todo.ErrUnavailable (a 503), never an unknown error. Errors it does not
// recognise (a scan into the wrong type: a bug) are returned as they are,
// for the HTTP layer to log and answer 500 without echoing them.
func classify(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errUserMissing), errors.Is(err, pgx.ErrNoRows):
		return todo.ErrNotFound
	case isDomain(err), errors.Is(err, todo.ErrUnavailable):
		return err
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", todo.ErrUnavailable, err)
	case errors.As(err, &pgErr):
		return classifyPg(pgErr, err)
	case pgconn.Timeout(err), pgconn.SafeToRetry(err), connectionLost(err):
		return fmt.Errorf("%w: %w", todo.ErrUnavailable, err)
	}
	return err
}

func classifyPg(pgErr *pgconn.PgError, err error) error {
	switch {
	case pgErr.Code == pgerrcode.CheckViolation, pgErr.Code == pgerrcode.NotNullViolation,
		pgErr.Code == pgerrcode.StringDataRightTruncationDataException:
		return &todo.ValidationError{Field: fieldOf(pgErr), Reason: "is out of bounds"}
	case pgErr.Code == pgerrcode.InvalidTextRepresentation:
		// A malformed id reaching the database: it names no row.
		return todo.ErrNotFound
	case pgerrcode.IsDataException(pgErr.Code):
		// A value PostgreSQL cannot take (out of range, bad encoding): the
		// request's, not the server's, fault.
		return &todo.ValidationError{Field: fieldOf(pgErr), Reason: "has a value the database cannot store"}
	case pgErr.Code == pgerrcode.InsufficientPrivilege:
		return fmt.Errorf("%w: %w", todo.ErrForbidden, err)
	case pgErr.Code == pgerrcode.UniqueViolation, pgErr.Code == pgerrcode.ForeignKeyViolation:
		return fmt.Errorf("%w: %w", todo.ErrConflict, err)
	case pgErr.Code == pgerrcode.QueryCanceled, pgErr.Code == pgerrcode.LockNotAvailable,
		transient(pgErr), statementCacheError(pgErr),
		pgerrcode.IsInsufficientResources(pgErr.Code), pgerrcode.IsOperatorIntervention(pgErr.Code),
		pgerrcode.IsInvalidAuthorizationSpecification(pgErr.Code), pgerrcode.IsSystemError(pgErr.Code),
		pgerrcode.IsInternalError(pgErr.Code):
		// The server cannot serve this now: busy, restarting, read-only,
		// out of resources, or not accepting rowgate's credentials.
		return fmt.Errorf("%w: %w", todo.ErrUnavailable, err)
	}
	return err
}

// isMissingOwner reports a write to an owned table whose owner's users row
// is gone: 23503 on the foreign key of its user_id column, which every
// owned table has and PostgreSQL names <table>_user_id_fkey. The door then
// provisions the caller again and resends the batch.
func isMissingOwner(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgerrcode.ForeignKeyViolation &&
		pgErr.ConstraintName == pgErr.TableName+"_user_id_fkey"
}

// fieldOf names the field a constraint guards: constraints in sql/ are named
// <table>_<column>_<rule>.
func fieldOf(pgErr *pgconn.PgError) string {
	if pgErr.ColumnName != "" {
		return pgErr.ColumnName
	}
	parts := strings.SplitN(pgErr.ConstraintName, "_", 3)
	if len(parts) >= 2 {
		return parts[1]
	}
	return ""
}

func isDomain(err error) bool {
	var v *todo.ValidationError
	return errors.Is(err, todo.ErrNotFound) || errors.Is(err, todo.ErrPreconditionFailed) ||
		errors.Is(err, todo.ErrConflict) || errors.As(err, &v)
}
