package audit

import "fmt"

// objectRules checks the schema's views, which can reach table rows past
// row level security: view_not_security_invoker.
func objectRules(c *catalog, opts Options) []Finding {
	var out []Finding
	for _, v := range c.views {
		if v.SecurityInvoker {
			continue
		}
		name := qualified(opts.Schema, v.Name)
		out = append(out, newFinding(RuleViewNotInvoker, "view "+name,
			"the view runs with its owner's rights: row level security on the tables it reads applies to the owner, not to the caller",
			fmt.Sprintf("ALTER VIEW %s SET (security_invoker = true);", name)))
	}
	return out
}
