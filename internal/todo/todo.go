package todo

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds on a todo, mirrored by CHECK constraints in sql/ so that no path can
// store a row that breaks them.
const (
	MaxTitleLen       = 500
	MaxDescriptionLen = 10000
)

// Todo is a row of the todos table as a caller who may see it sees it.
// OrganizationID is nil for a personal todo, which only its owner sees;
// otherwise the todo belongs to that organization and UserID is the member
// who created it.
type Todo struct {
	ID             string
	UserID         string
	OrganizationID *string
	Title          string
	Description    *string
	Completed      bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// NewTodo is what a caller may give when creating a todo. The owner is never
// part of it: PostgreSQL fills user_id from the transaction's identity.
// OrganizationID, when non-nil, creates the todo in that organization, of
// which the caller must be a member (else ErrNotAMember).
type NewTodo struct {
	Title          string
	Description    *string
	Completed      bool
	OrganizationID *string
}

// Validate reports the first field that breaks a bound, as a *ValidationError.
func (n NewTodo) Validate() error {
	if err := validateTitle(n.Title); err != nil {
		return err
	}
	if err := validateDescription(n.Description); err != nil {
		return err
	}
	return validateOrganizationID(n.OrganizationID)
}

// TodoPatch is a partial update. A nil pointer leaves the field as it is;
// DescriptionSet with a nil Description clears the description.
// OrganizationIDSet moves the todo: into the organization OrganizationID
// names, or, with a nil OrganizationID, out of its organization to become
// its creator's personal todo.
type TodoPatch struct {
	Title             *string
	DescriptionSet    bool
	Description       *string
	Completed         *bool
	OrganizationIDSet bool
	OrganizationID    *string
}

// Empty reports whether the patch changes nothing.
func (p TodoPatch) Empty() bool {
	return p.Title == nil && !p.DescriptionSet && p.Completed == nil && !p.OrganizationIDSet
}

// Validate reports the first field that breaks a bound, as a *ValidationError.
func (p TodoPatch) Validate() error {
	if p.Title != nil {
		if err := validateTitle(*p.Title); err != nil {
			return err
		}
	}
	if p.DescriptionSet {
		if err := validateDescription(p.Description); err != nil {
			return err
		}
	}
	if p.OrganizationIDSet {
		return validateOrganizationID(p.OrganizationID)
	}
	return nil
}

func validateTitle(title string) error {
	switch {
	case strings.TrimSpace(title) == "":
		return &ValidationError{Field: "title", Reason: "must not be empty or only white space"}
	case runeLen(title) > MaxTitleLen:
		return &ValidationError{Field: "title", Reason: "must be at most 500 characters"}
	case strings.ContainsRune(title, 0):
		return &ValidationError{Field: "title", Reason: "must not contain NUL characters"}
	}
	return nil
}

func validateDescription(d *string) error {
	switch {
	case d == nil:
		return nil
	case runeLen(*d) > MaxDescriptionLen:
		return &ValidationError{Field: "description", Reason: "must be at most 10000 characters"}
	case strings.ContainsRune(*d, 0):
		return &ValidationError{Field: "description", Reason: "must not contain NUL characters"}
	}
	return nil
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }

func validateOrganizationID(id *string) error {
	if id == nil {
		return nil
	}
	if !ValidOrganizationID(*id) {
		return &ValidationError{Field: "organization_id", Reason: "must be 1 to 255 characters, with no control characters"}
	}
	return nil
}
