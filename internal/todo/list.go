package todo

import "time"

// Page size bounds for listing todos.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Cursor is a keyset position: the last todo of the previous page. Its
// encoding on the wire belongs to the HTTP layer.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// ListQuery asks for todos, newest first: the caller's personal todos, or,
// when OrganizationID is non-nil, that organization's (none unless the
// caller is a member of it). Completed filters when non-nil; After
// continues from a previous page of the same list.
type ListQuery struct {
	Limit          int
	OrganizationID *string
	Completed      *bool
	After          *Cursor
}

// Page is one page of todos and, when more remain, the cursor for the next.
type Page struct {
	Items []Todo
	Next  *Cursor
}
