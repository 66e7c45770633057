package todo

import "errors"

var (
	// ErrNotFound means the row does not exist or belongs to someone else.
	// The two are deliberately indistinguishable.
	ErrNotFound = errors.New("not found")
	// ErrPreconditionFailed means an If-Match precondition did not hold: the
	// row changed since the caller read it.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrConflict means the change collides with existing state.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable means the database could not answer in time, or is
	// briefly unable to; the request may be retried.
	ErrUnavailable = errors.New("unavailable")
	// ErrForbidden means the database refused the change for this caller.
	// The API never lets a client name an owner, so it signals a bug, not a
	// client mistake; it is still answered without detail.
	ErrForbidden = errors.New("forbidden")
)

// ValidationError names the field a client got wrong and why.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }
