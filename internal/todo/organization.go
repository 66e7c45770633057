package todo

import (
	"unicode"
	"unicode/utf8"
)

// MaxOrganizationIDLen bounds an organization id, in characters, as the
// CHECK constraint on todos.organization_id does. Better Auth issues
// 32-character ids.
const MaxOrganizationIDLen = 255

// Organization is one of the caller's memberships, as Better Auth's
// organization plugin records it: the organization and the caller's roles
// in it (owner, admin, member; one member may hold several).
type Organization struct {
	ID    string
	Name  string
	Roles []string
}

// ValidOrganizationID reports whether id can name an organization: 1 to
// MaxOrganizationIDLen characters of valid UTF-8 with no control
// characters. Whether one by that id exists, and whether the caller is a
// member, only the database knows.
func ValidOrganizationID(id string) bool {
	if id == "" || !utf8.ValidString(id) || runeLen(id) > MaxOrganizationIDLen {
		return false
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
