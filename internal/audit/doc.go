// Package audit checks that a live PostgreSQL database enforces the row
// level security that rls/ describes, and renders what it finds as text,
// JSON or a markdown review document.
//
// Run reads the system catalogs as whichever role it is connected as, in a
// read-only transaction, and applies the rules, grouped by family: table
// switches (rls.go), policy expressions and how policies combine
// (policies.go), the runtime role (roles.go), views (objects.go), the
// schema's functions and the SECURITY DEFINER functions its policies call
// (functions.go), and drift from rls/ (drift.go). The expression
// rules read each policy's stored expression tree (nodetree.go, expr.go)
// rather than guessing from SQL text. docs/audit.md describes every rule.
//
// The package changes nothing in the database: the drift check installs
// rls/ in a transaction that is always rolled back.
package audit
