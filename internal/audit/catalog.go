package audit

import (
	"context"
	"embed"
	"fmt"

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
	roleSQL          = query("role")
	driftPoliciesSQL = query("drift_policies")
)

// catalog is everything the rules read, loaded in one read-only
// transaction.
type catalog struct {
	versionNum int
	tables     []*tableInfo
	views      []View
	functions  []Function
	accessor   *Function
	role       Role
	// roleChain is the app role followed by every role it is a member of.
	roleChain []memberRole
	expr      exprContext
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
		c.loadTables, c.loadPolicies, c.loadColumns, c.loadViews, c.loadFunctions,
		c.loadIdentity, c.loadOperators, c.loadRole,
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
	rows, _ := tx.Query(ctx, functionsSQL, opts.Schema, opts.Accessor)
	var err error
	c.functions, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Function, error) {
		var f Function
		err := row.Scan(&f.Signature, &f.SecurityDefiner, &f.SearchPath, &f.Comment, &f.Definition)
		return f, err
	})
	if err != nil {
		return wrap("read functions", err)
	}
	for i := range c.functions {
		if c.functions[i].Definition != nil {
			c.accessor = &c.functions[i]
		}
	}
	return nil
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
	for _, t := range c.tables {
		for _, p := range t.policies {
			for _, n := range []*node{p.using, p.check} {
				item{node: n}.walk(0, func(n *node, _ int) bool {
					if n.typ == "OPEXPR" {
						oids = append(oids, n.tok("opno"))
					}
					return true
				})
			}
		}
	}
	c.expr.operators = map[string]string{}
	rows, _ := tx.Query(ctx, operatorsSQL, oids)
	var oid, name string
	_, err := pgx.ForEachRow(rows, []any{&oid, &name}, func() error {
		c.expr.operators[oid] = name
		return nil
	})
	return wrap("read operators", err)
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
