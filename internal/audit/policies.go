package audit

import (
	"fmt"
	"sort"
	"strings"
)

// policyRules checks each policy's expressions and how the policies of a
// table combine: policy_always_true, update_without_check,
// identity_per_row, policy_per_row_call, multiple_permissive_policies,
// unindexed_policy_column.
func policyRules(c *catalog, opts Options) []Finding {
	var out []Finding
	for _, t := range c.tables {
		for _, p := range t.policies {
			object := fmt.Sprintf("policy %s on %s", ident(p.Name), qualified(opts.Schema, t.Name))
			out = append(out, c.alwaysTrue(p, object)...)
			out = append(out, updateWithoutCheck(p, object)...)
			out = append(out, c.identityPerRow(p, object, opts)...)
			out = append(out, c.perRowCalls(t, p, object)...)
		}
		out = append(out, c.multiplePermissive(t, opts)...)
		out = append(out, c.unindexedColumns(t, opts)...)
	}
	return out
}

// expression is one of a policy's two clauses.
type expression struct {
	clause string // "USING" or "WITH CHECK"
	tree   *node
	text   string
}

func (p *policyInfo) expressions() []expression {
	var out []expression
	if p.using != nil && p.Using != nil {
		out = append(out, expression{"USING", p.using, *p.Using})
	}
	if p.check != nil && p.Check != nil {
		out = append(out, expression{"WITH CHECK", p.check, *p.Check})
	}
	return out
}

// alwaysTrue flags a permissive policy clause that admits every row. A
// restrictive policy only narrows what permissive ones allow, so a true
// one is useless but not a hole, and is left alone.
func (c *catalog) alwaysTrue(p *policyInfo, object string) []Finding {
	if !p.Permissive {
		return nil
	}
	var out []Finding
	for _, e := range p.expressions() {
		if !c.expr.admitsEveryRow(item{node: e.tree}) {
			continue
		}
		out = append(out, newFinding(RuleAlwaysTrue, object, c.alwaysTrueDetail(e),
			"Compare the row's owner column with the identity, as in (user_id = (select app_user_id())), with no OR that skips it; for a deliberate deny-all write false."))
	}
	return out
}

func (c *catalog) alwaysTrueDetail(e expression) string {
	if e.tree.typ == "BOOLEXPR" && e.tree.tok("boolop") == "or" {
		args, parts := e.tree.args(), disjuncts(e.text)
		for i, a := range args {
			if len(parts) == len(args) && c.expr.admitsEveryRow(a) {
				return fmt.Sprintf("%s %s: the disjunct %s admits every row whenever it holds", e.clause, e.text, parts[i])
			}
		}
	}
	if !refsRow(item{node: e.tree}) {
		return fmt.Sprintf("%s %s reads no column of the row, so it admits every row whenever it holds", e.clause, e.text)
	}
	return fmt.Sprintf("%s %s is true for every row", e.clause, e.text)
}

// updateWithoutCheck flags an UPDATE or ALL policy with USING but no WITH
// CHECK.
func updateWithoutCheck(p *policyInfo, object string) []Finding {
	if (p.Command != "UPDATE" && p.Command != "ALL") || p.Check != nil {
		return nil
	}
	return []Finding{newFinding(RuleUpdateWithoutCheck, object,
		fmt.Sprintf("a FOR %s policy with no WITH CHECK: the row after an update is checked only against USING, implicitly", p.Command),
		"Add the ownership rule as WITH CHECK too, as in WITH CHECK (user_id = (select app_user_id())), in rls/.")}
}

// identityPerRow flags a clause that calls the accessor or current_setting
// outside a sub-select.
func (c *catalog) identityPerRow(p *policyInfo, object string, opts Options) []Finding {
	var out []Finding
	for _, e := range p.expressions() {
		calls := uniq(c.expr.perRowIdentityCalls(item{node: e.tree}))
		if len(calls) == 0 {
			continue
		}
		out = append(out, newFinding(RuleIdentityPerRow, object,
			fmt.Sprintf("%s %s calls %s() directly, once per row", e.clause, e.text, strings.Join(calls, "(), ")),
			fmt.Sprintf("Read the identity as (select %s()), which PostgreSQL evaluates once per statement.", opts.Accessor)))
	}
	return out
}

// perRowCalls flags a function call that PostgreSQL makes once per row
// where once per statement would do.
func (c *catalog) perRowCalls(t *tableInfo, p *policyInfo, object string) []Finding {
	var out []Finding
	seen := map[string]bool{} // a call written twice is reported once
	for _, e := range p.expressions() {
		for _, call := range c.expr.perRowCalls(item{node: e.tree}) {
			f := newFinding(RulePerRowCall, object,
				fmt.Sprintf("%s %s calls %s() once per row, though its arguments read no column of the row", e.clause, e.text, call.fn.name),
				hoistFix(call))
			if call.rowArgs {
				f.Detail = fmt.Sprintf("%s %s calls %s() with a column of the row, once per row; it is a %s function in %s, so each call may run a query of its own",
					e.clause, e.text, call.fn.name, volatility(call.fn.volatility), call.fn.language)
				f.Fix = rowCallFix(t.columns[call.column].name)
			}
			if !seen[f.Detail] {
				seen[f.Detail] = true
				out = append(out, f)
			}
		}
	}
	return out
}

func hoistFix(call perRowCall) string {
	fix := fmt.Sprintf("Wrap the call in a sub-select, (select %s(...)), which PostgreSQL evaluates once per statement (an InitPlan).", call.fn.name)
	if call.arrayOfAny {
		fix += fmt.Sprintf(" As the array of = ANY, cast it: = ANY ((select %s(...))::%s); without the cast, = ANY ((select ...)) is read as a sub-query of arrays and fails.", call.fn.name, call.fn.result)
	}
	return fix
}

func rowCallFix(column string) string {
	if column == "" {
		column = "the column"
	} else {
		column = ident(column)
	}
	return fmt.Sprintf("Have one function return the caller's ids, run once per statement, and test %[1]s against it: %[1]s = ANY ((SELECT f())::type[]) for an f returning an array (an InitPlan an index scan can use), or %[1]s IN (SELECT f()) for a set-returning f (a hashed SubPlan, a filter).", column)
}

func volatility(v string) string {
	if v == "v" {
		return "volatile"
	}
	return "stable"
}

// multiplePermissive flags a command for which more than one permissive
// policy applies to the same role. A policy TO public applies to every
// role; one TO a role the app role is a member of applies to the app role.
func (c *catalog) multiplePermissive(t *tableInfo, opts Options) []Finding {
	roles := []string{opts.AppRole}
	for _, p := range t.policies {
		roles = append(roles, p.Roles...)
	}
	roles = uniq(roles)
	type group struct{ cmd, policies string }
	byGroup := map[group][]string{}
	var order []group
	for _, cmd := range commands {
		for _, role := range roles {
			var names []string
			for _, p := range t.policies {
				if p.Permissive && forCommand(p.Command, cmd) && c.policyAppliesTo(p, role, opts) {
					names = append(names, p.Name)
				}
			}
			if len(names) < 2 {
				continue
			}
			g := group{cmd, strings.Join(names, ", ")}
			if _, seen := byGroup[g]; !seen {
				order = append(order, g)
			}
			byGroup[g] = append(byGroup[g], role)
		}
	}
	var out []Finding
	for _, g := range order {
		out = append(out, newFinding(RuleMultiplePermissive, "table "+qualified(opts.Schema, t.Name),
			fmt.Sprintf("%s for %s: permissive policies %s all apply, and any one of them admits a row", g.cmd, strings.Join(byGroup[g], ", "), g.policies),
			"Merge them into one policy per role and command in rls/, or make the narrowing ones AS RESTRICTIVE."))
	}
	return out
}

func (c *catalog) policyAppliesTo(p *policyInfo, role string, opts Options) bool {
	if role == opts.AppRole {
		return c.appliesToApp(p.Roles)
	}
	for _, r := range p.Roles {
		if r == role || r == "public" {
			return true
		}
	}
	return false
}

// unindexedColumns flags a column that a policy compares with the identity
// when no valid index has it as its first key.
func (c *catalog) unindexedColumns(t *tableInfo, opts Options) []Finding {
	users := map[int][]string{}
	for _, p := range t.policies {
		for _, e := range p.expressions() {
			for _, col := range c.expr.identityColumns(item{node: e.tree}) {
				users[col] = append(users[col], p.Name)
			}
		}
	}
	cols := make([]int, 0, len(users))
	for col := range users {
		cols = append(cols, col)
	}
	sort.Ints(cols)
	var out []Finding
	for _, num := range cols {
		col, ok := t.columns[num]
		if !ok || col.indexed {
			continue
		}
		out = append(out, newFinding(RuleUnindexedPolicyColumn,
			fmt.Sprintf("column %s.%s", qualified(opts.Schema, t.Name), ident(col.name)),
			fmt.Sprintf("policies %s compare it with the identity, and no index has it as its first column", strings.Join(uniq(users[num]), ", ")),
			fmt.Sprintf("CREATE INDEX ON %s (%s); or lead an existing index with it, in a migration in sql/.", qualified(opts.Schema, t.Name), ident(col.name))))
	}
	return out
}

// uniq drops repeated strings, keeping the first of each in order.
func uniq(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
