package audit

import (
	"fmt"
	"strings"
)

// roleRules checks that the app role is filtered by row level security:
// app_role_bypasses. A member of a role can SET ROLE to it (and on
// PostgreSQL 15 inherits its rights unless NOINHERIT), so every role the app
// role is a member of, directly or not, is checked the same way.
func roleRules(c *catalog, opts Options) []Finding {
	var out []Finding
	object := "role " + ident(opts.AppRole)
	for _, m := range c.roleChain {
		who, fix := opts.AppRole+" is", ""
		if len(m.path) > 1 {
			who = fmt.Sprintf("%s is a member of %s (%s), which is", opts.AppRole, m.name, strings.Join(m.path, " → "))
			fix = fmt.Sprintf("REVOKE %s FROM %s;", ident(m.path[1]), ident(opts.AppRole))
		}
		alter := func(attr string) string {
			if fix != "" {
				return fix
			}
			return fmt.Sprintf("ALTER ROLE %s %s; (needs a superuser)", ident(opts.AppRole), attr)
		}
		if m.super {
			out = append(out, newFinding(RuleAppRoleBypasses, object, who+" a superuser, which bypasses every policy", alter("NOSUPERUSER")))
		}
		if m.bypass {
			out = append(out, newFinding(RuleAppRoleBypasses, object, who+" BYPASSRLS, which skips every policy", alter("NOBYPASSRLS")))
		}
		// Before PostgreSQL 16, CREATEROLE may grant membership in any
		// role but a superuser: the table owner's, for one.
		if m.create && c.versionNum < 160000 {
			out = append(out, newFinding(RuleAppRoleBypasses, object,
				who+" CREATEROLE, which on PostgreSQL 15 can grant itself membership in the table owner", alter("NOCREATEROLE")))
		}
		for _, owned := range m.owns {
			fixOwner := fix
			if fixOwner == "" {
				fixOwner = fmt.Sprintf("Give the %s back to the role that runs rowgate migrate (ALTER ... OWNER TO it): %s must own nothing.", owned, opts.AppRole)
			}
			out = append(out, newFinding(RuleAppRoleBypasses, object,
				fmt.Sprintf("%s the owner of %s, so %s", who, owned, ownerPowers(owned)),
				fixOwner))
		}
	}
	return out
}

// ownerPowers says what owning an object (as role.sql names it) lets the
// app role do.
func ownerPowers(owned string) string {
	switch {
	case strings.HasPrefix(owned, "function "):
		return "it can redefine the function, the identity accessor included"
	case strings.HasPrefix(owned, "table "):
		return "it can change or drop the table's policies and, unless forced, bypass them"
	}
	return "it can redefine what it reads, with its owner's rights"
}
