package audit

import "fmt"

// objectRules checks the schema's other objects that can reach table rows
// past row level security: view_not_security_invoker and
// security_definer_search_path.
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
	for _, f := range c.functions {
		if !f.SecurityDefiner || f.SearchPath != nil {
			continue
		}
		name := ident(opts.Schema) + "." + f.Signature
		out = append(out, newFinding(RuleDefinerSearchPath, "function "+name,
			"SECURITY DEFINER without a search_path setting: it resolves names through the caller's search_path",
			fmt.Sprintf("ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp; and schema-qualify the names in its body.", name)))
	}
	return out
}
