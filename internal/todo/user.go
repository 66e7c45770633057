package todo

import (
	"strings"
	"time"
)

// MaxNameLen bounds a user's display name, in characters.
const MaxNameLen = 200

// MaxEmailLen bounds a user's email, in characters (RFC 5321's path limit).
const MaxEmailLen = 320

// User is a row of the users table as its owner sees it.
type User struct {
	ID        string
	Email     *string
	Name      *string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// UserPatch is a partial update of the caller's own user. A nil field is left
// as it is; NameSet with a nil Name clears the name.
type UserPatch struct {
	NameSet bool
	Name    *string
}

// Validate reports the first field that breaks a bound, as a *ValidationError.
func (p UserPatch) Validate() error {
	if !p.NameSet || p.Name == nil {
		return nil
	}
	if runeLen(*p.Name) > MaxNameLen {
		return &ValidationError{Field: "name", Reason: "must be at most 200 characters"}
	}
	if strings.ContainsRune(*p.Name, 0) {
		return &ValidationError{Field: "name", Reason: "must not contain NUL characters"}
	}
	return nil
}
