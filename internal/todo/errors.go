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
	// briefly unable to; the request may be retried. ErrOverloaded and
	// ErrOutcomeUnknown also match it.
	ErrUnavailable = errors.New("unavailable")
	// ErrOverloaded means no database connection became free in time: the
	// service is shedding load. It matches ErrUnavailable.
	ErrOverloaded error = &unavailableError{"overloaded"}
	// ErrOutcomeUnknown means the connection was lost after a write was sent
	// and before its result arrived: it may or may not have been applied.
	// Such a write is never retried blindly; a client that sent an
	// Idempotency-Key can retry safely. It matches ErrUnavailable.
	ErrOutcomeUnknown error = &unavailableError{"outcome unknown"}
	// ErrNotAMember means the caller named an organization they are not a
	// member of, to create a todo in it or move one into it. An
	// organization that does not exist gives the same error: the two are
	// deliberately indistinguishable.
	ErrNotAMember = errors.New("not a member of the organization")
	// ErrNotAllowed means the caller may see the todo but not make this
	// change to it: delete another member's todo without being an owner or
	// admin of its organization, or turn another member's todo into a
	// personal one.
	ErrNotAllowed = errors.New("not allowed")
	// ErrForbidden means the database refused the change for this caller.
	// The API never lets a client name an owner, so it signals a bug, not a
	// client mistake; it is still answered without detail.
	ErrForbidden = errors.New("forbidden")
)

// unavailableError is a more specific kind of ErrUnavailable.
type unavailableError struct{ msg string }

func (e *unavailableError) Error() string        { return e.msg }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// ValidationError names the field a client got wrong and why.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }
