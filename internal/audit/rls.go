package audit

import (
	"fmt"
	"strings"
)

// rlsRules checks each table's row level security switches and that every
// command has a policy for the app role: rls_disabled, rls_not_forced,
// policy_exists_rls_disabled, rls_enabled_no_policy.
func rlsRules(c *catalog, opts Options) []Finding {
	var out []Finding
	for _, t := range c.tables {
		name := qualified(opts.Schema, t.Name)
		object := "table " + name
		switch {
		case !t.RLSEnabled:
			out = append(out, newFinding(RuleRLSDisabled, object,
				"row level security is not enabled",
				fmt.Sprintf("ALTER TABLE %s ENABLE ROW LEVEL SECURITY; ALTER TABLE %[1]s FORCE ROW LEVEL SECURITY; and write its policies in rls/.", name)))
			if len(t.policies) > 0 {
				out = append(out, newFinding(RulePolicyRLSDisabled, object,
					fmt.Sprintf("policies %s exist, but row level security is disabled, so none of them applies", policyNames(t.policies)),
					fmt.Sprintf("ALTER TABLE %s ENABLE ROW LEVEL SECURITY; ALTER TABLE %[1]s FORCE ROW LEVEL SECURITY;", name)))
			}
		case !t.RLSForced:
			out = append(out, newFinding(RuleRLSNotForced, object,
				"row level security is enabled but not forced: the table owner bypasses every policy",
				fmt.Sprintf("ALTER TABLE %s FORCE ROW LEVEL SECURITY;", name)))
		}
		if t.RLSEnabled {
			out = append(out, missingCommands(c, t, object, opts)...)
		}
	}
	return out
}

// missingCommands reports each command for which no permissive policy
// applies to the app role, so row level security denies it every row.
func missingCommands(c *catalog, t *tableInfo, object string, opts Options) []Finding {
	var out []Finding
	for _, cmd := range commands {
		covered := false
		for _, p := range t.policies {
			if p.Permissive && forCommand(p.Command, cmd) && c.appliesToApp(p.Roles) {
				covered = true
			}
		}
		if !covered {
			out = append(out, newFinding(RuleNoPolicy, object,
				fmt.Sprintf("no permissive %s policy applies to %s, so it can %s no row", cmd, opts.AppRole, verb(cmd)),
				fmt.Sprintf("If %s should %s rows of %s, write a FOR %s policy TO %s in rls/; if not, leave it and say so in the table's comment.",
					opts.AppRole, verb(cmd), t.Name, cmd, opts.AppRole)))
		}
	}
	return out
}

func verb(cmd string) string {
	switch cmd {
	case "SELECT":
		return "read"
	case "INSERT":
		return "insert"
	case "UPDATE":
		return "update"
	}
	return "delete"
}

func policyNames(ps []*policyInfo) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}
