package audit

import (
	"regexp"
	"strings"
)

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// ident quotes an identifier the way SQL needs it, for the statements a
// finding suggests. Those are advice to print, never run.
func ident(name string) string {
	if plainIdent.MatchString(name) {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// qualified is schema.name, each part quoted as needed.
func qualified(schema, name string) string { return ident(schema) + "." + ident(name) }

// commands are the four commands a policy can be for, ALL standing for
// each of them.
var commands = []string{"SELECT", "INSERT", "UPDATE", "DELETE"}

// forCommand reports whether a policy for policyCmd covers cmd.
func forCommand(policyCmd, cmd string) bool { return policyCmd == cmd || policyCmd == "ALL" }
