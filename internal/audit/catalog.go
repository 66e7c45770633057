package audit

import (
	"context"
	"embed"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

//go:embed sql/*.sql
var queries embed.FS

func query(name string) string {
	b, err := queries.ReadFile("sql/" + name + ".sql")
	if err != nil {
		panic(err)
	}
	return string(b)
}

var (
	metaSQL          = query("meta")
	tablesSQL        = query("tables")
	policiesSQL      = query("policies")
	columnsSQL       = query("columns")
	viewsSQL         = query("views")
	functionsSQL     = query("functions")
	identitySQL      = query("identity")
	operatorsSQL     = query("operators")
	calledSQL        = query("called")
	pathWritersSQL   = query("path_writers")
	roleSQL          = query("role")
	driftPoliciesSQL = query("drift_policies")
)

// catalog is everything the rules read, loaded in one read-only
// transaction.
type catalog struct {
	versionNum int
	tables     []*tableInfo
	views      []View
	functions  []*functionInfo
	accessor   *Function
	role       Role
	// roleChain is the app role followed by every role it is a member of.
	roleChain []memberRole
	// calls maps the oid of every function a policy calls (directly or
	// behind an operator) to the policies that call it.
	calls map[string][]string
	expr  exprContext
}

type tableInfo struct {
	Table
	columns  map[int]column
	policies []*policyInfo
}

type column struct {
	name    string
	indexed bool // some valid index has it as its first key
}

// functionInfo is a reported function with what the function rules need
// beyond what the report shows.
type functionInfo struct {
	Function
	oid, qualified, kind string
	// ownerSuper and ownerBypass say the owner is a superuser or BYPASSRLS;
	// ownerIsMigrator that it owns the schema's tables (or the schema, when
	// it has none), and migrator names that role.
	ownerSuper, ownerBypass, ownerIsMigrator bool
	migrator                                 string
	// trigger: it returns trigger or event_trigger, so only a trigger can
	// call it; extension: an extension created it and manages it.
	trigger, extension bool
	// path is the pinned search_path, one schema name each; pathIssues says
	// what is unsafe about it (path_writers.sql and searchPathIssues).
	path       []string
	pathIssues []string
}

type policyInfo struct {
	Policy
	table string
	using *node // nil when absent
	check *node
}

// memberRole is the app role or a role it is a member of; path is the chain
// of memberships from the app role to it.
type memberRole struct {
	name                  string
	path                  []string
	super, bypass, create bool
	createdb, repl, login bool
	owns                  []string
}

func loadCatalog(ctx context.Context, tx pgx.Tx, r *Report, opts Options) (*catalog, error) {
	c := &catalog{}
	var exists bool
	err := tx.QueryRow(ctx, metaSQL, opts.Schema).Scan(&r.Database, &r.AuditedAs, &r.ServerVersion, &c.versionNum, &exists)
	if err != nil {
		return nil, fmt.Errorf("audit: read server: %w", err)
	}
	if !exists {
		return nil, fmt.Errorf("%w: %q", ErrNoSchema, opts.Schema)
	}
	steps := []func(context.Context, pgx.Tx, Options) error{
		c.loadTables, c.loadPolicies, c.loadColumns, c.loadViews, c.loadCalls,
		c.loadFunctions, c.loadPathWriters, c.loadIdentity, c.loadOperators, c.loadRole,
	}
	for _, step := range steps {
		if err := step(ctx, tx, opts); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *catalog) table(name string) *tableInfo {
	for _, t := range c.tables {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func (c *catalog) loadTables(ctx context.Context, tx pgx.Tx, opts Options) error {
	rows, _ := tx.Query(ctx, tablesSQL, opts.Schema)
	var err error
	c.tables, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*tableInfo, error) {
		t := &tableInfo{columns: map[int]column{}}
		err := row.Scan(&t.Name, &t.RLSEnabled, &t.RLSForced, &t.Comment)
		return t, err
	})
	return wrap("read tables", err)
}

func (c *catalog) loadPolicies(ctx context.Context, tx pgx.Tx, opts Options) error {
	rows, _ := tx.Query(ctx, policiesSQL, opts.Schema)
	policies, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*policyInfo, error) {
		p := &policyInfo{}
		var usingTree, checkTree *string
		err := row.Scan(&p.table, &p.Name, &p.Command, &p.Roles, &p.Permissive, &p.Using, &p.Check, &usingTree, &checkTree, &p.Comment)
		if err != nil {
			return nil, err
		}
		if p.using, err = parseTree(usingTree); err != nil {
			return nil, fmt.Errorf("policy %s on %s: USING: %w", p.Name, p.table, err)
		}
		if p.check, err = parseTree(checkTree); err != nil {
			return nil, fmt.Errorf("policy %s on %s: WITH CHECK: %w", p.Name, p.table, err)
		}
		return p, nil
	})
	if err != nil {
		return wrap("read policies", err)
	}
	for _, p := range policies {
		if t := c.table(p.table); t != nil {
			t.policies = append(t.policies, p)
		}
	}
	return nil
}

func parseTree(s *string) (*node, error) {
	if s == nil {
		return nil, nil
	}
	return parseNodeTree(*s)
}

func (c *catalog) loadColumns(ctx context.Context, tx pgx.Tx, opts Options) error {
	rows, _ := tx.Query(ctx, columnsSQL, opts.Schema)
	var table, name string
	var num int
	var indexed bool
	_, err := pgx.ForEachRow(rows, []any{&table, &num, &name, &indexed}, func() error {
		if t := c.table(table); t != nil {
			t.columns[num] = column{name: name, indexed: indexed}
		}
		return nil
	})
	return wrap("read columns", err)
}

func (c *catalog) loadViews(ctx context.Context, tx pgx.Tx, opts Options) error {
	rows, _ := tx.Query(ctx, viewsSQL, opts.Schema)
	var err error
	c.views, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (View, error) {
		var v View
		err := row.Scan(&v.Name, &v.SecurityInvoker, &v.Comment)
		return v, err
	})
	return wrap("read views", err)
}

func (c *catalog) loadFunctions(ctx context.Context, tx pgx.Tx, opts Options) error {
	rows, _ := tx.Query(ctx, functionsSQL, opts.Schema, opts.Accessor, mapKeys(c.calls))
	var err error
	c.functions, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*functionInfo, error) {
		f := &functionInfo{}
		var isAccessor bool
		err := row.Scan(&f.oid, &f.Signature, &f.qualified, &f.Schema, &f.kind, &f.SecurityDefiner, &f.SearchPath,
			&f.Owner, &f.ownerSuper, &f.ownerBypass, &f.ownerIsMigrator, &f.migrator, &f.PublicExecute, &f.trigger, &f.extension,
			&f.Reads, &f.Comment, &isAccessor, &f.Definition)
		if isAccessor {
			c.accessor = &f.Function
		}
		f.CalledBy = append([]string{}, c.calls[f.oid]...)
		return f, err
	})
	return wrap("read functions", err)
}

// loadPathWriters splits the search_path each SECURITY DEFINER function
// pins and asks who else could create objects in the schemas it names.
// ("$user" names no fixed schema to ask about; searchPathIssues flags it.)
func (c *catalog) loadPathWriters(ctx context.Context, tx pgx.Tx, _ Options) error {
	var fns, names []string
	byOID := map[string]*functionInfo{}
	for _, f := range c.functions {
		if !f.SecurityDefiner || f.SearchPath == nil {
			continue
		}
		f.path = splitSearchPath(*f.SearchPath)
		byOID[f.oid] = f
		for _, name := range f.path {
			if name != "pg_catalog" && name != "pg_temp" && name != "" && name != "$user" {
				fns, names = append(fns, f.oid), append(names, name)
			}
		}
	}
	rows, _ := tx.Query(ctx, pathWritersSQL, fns, names)
	var oid, name string
	var exists bool
	var writers []string
	_, err := pgx.ForEachRow(rows, []any{&oid, &name, &exists, &writers}, func() error {
		if f := byOID[oid]; f != nil && len(writers) > 0 {
			f.pathIssues = append(f.pathIssues, writableIssue(name, exists, writers))
		}
		return nil
	})
	return wrap("read search_path schemas", err)
}

func (c *catalog) loadIdentity(ctx context.Context, tx pgx.Tx, opts Options) error {
	c.expr.identity = map[string]string{}
	rows, _ := tx.Query(ctx, identitySQL, opts.Schema, opts.Accessor)
	var oid, name string
	_, err := pgx.ForEachRow(rows, []any{&oid, &name}, func() error {
		c.expr.identity[oid] = name
		return nil
	})
	return wrap("read identity functions", err)
}

// loadOperators names every operator that appears in a policy, for the
// X = X check.
func (c *catalog) loadOperators(ctx context.Context, tx pgx.Tx, _ Options) error {
	var oids []string
	c.eachPolicyNode(func(_ *tableInfo, _ *policyInfo, n *node) {
		if n.typ == "OPEXPR" {
			oids = append(oids, n.tok("opno"))
		}
	})
	c.expr.operators = map[string]string{}
	rows, _ := tx.Query(ctx, operatorsSQL, oids)
	var oid, name string
	_, err := pgx.ForEachRow(rows, []any{&oid, &name}, func() error {
		c.expr.operators[oid] = name
		return nil
	})
	return wrap("read operators", err)
}

// loadCalls records every function a policy calls, directly (FUNCEXPR) or
// as the function behind an operator (:opfuncid), and reads what
// policy_per_row_call needs to know about each.
func (c *catalog) loadCalls(ctx context.Context, tx pgx.Tx, opts Options) error {
	c.calls = map[string][]string{}
	c.eachPolicyNode(func(t *tableInfo, p *policyInfo, n *node) {
		oid := n.tok("funcid")
		if n.typ != "FUNCEXPR" {
			oid = n.tok("opfuncid")
		}
		name := fmt.Sprintf("%s on %s", p.Name, qualified(opts.Schema, t.Name))
		if oid != "" && oid != "0" && !slices.Contains(c.calls[oid], name) {
			c.calls[oid] = append(c.calls[oid], name)
		}
	})
	c.expr.functions = map[string]calledFunction{}
	rows, _ := tx.Query(ctx, calledSQL, opts.Schema, mapKeys(c.calls))
	var oid string
	var f calledFunction
	_, err := pgx.ForEachRow(rows, []any{&oid, &f.name, &f.volatility, &f.language, &f.result}, func() error {
		c.expr.functions[oid] = f
		return nil
	})
	return wrap("read called functions", err)
}

// eachPolicyNode visits every node of every policy's USING and WITH CHECK.
func (c *catalog) eachPolicyNode(visit func(*tableInfo, *policyInfo, *node)) {
	for _, t := range c.tables {
		for _, p := range t.policies {
			for _, n := range []*node{p.using, p.check} {
				item{node: n}.walk(0, func(n *node, _ int) bool {
					visit(t, p, n)
					return true
				})
			}
		}
	}
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (c *catalog) loadRole(ctx context.Context, tx pgx.Tx, opts Options) error {
	rows, _ := tx.Query(ctx, roleSQL, opts.AppRole, opts.Schema)
	var err error
	c.roleChain, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (memberRole, error) {
		var m memberRole
		err := row.Scan(&m.name, &m.path, &m.super, &m.bypass, &m.create, &m.createdb, &m.repl, &m.login, &m.owns)
		return m, err
	})
	if err != nil {
		return wrap("read app role", err)
	}
	c.role = Role{Name: opts.AppRole, MemberOf: []string{}, Owns: []string{}}
	if len(c.roleChain) == 0 {
		return nil
	}
	app := c.roleChain[0]
	c.role.Exists = true
	c.role.Superuser, c.role.BypassRLS, c.role.CreateRole = app.super, app.bypass, app.create
	c.role.CreateDB, c.role.Replication, c.role.Login = app.createdb, app.repl, app.login
	c.role.Owns = app.owns
	for _, m := range c.roleChain[1:] {
		c.role.MemberOf = append(c.role.MemberOf, m.name)
	}
	return nil
}

// appliesToApp reports whether a policy written TO roles applies to the app
// role: it names the app role, public, or a role the app role is a member
// of.
func (c *catalog) appliesToApp(roles []string) bool {
	for _, r := range roles {
		if r == "public" {
			return true
		}
		for _, m := range c.roleChain {
			if m.name == r {
				return true
			}
		}
	}
	return false
}

func wrap(what string, err error) error {
	if err != nil {
		return fmt.Errorf("audit: %s: %w", what, err)
	}
	return nil
}
