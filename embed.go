// Package rowgate embeds the SQL that defines the database: the numbered
// tern migrations in sql/ and the row level security code package in rls/.
// Everything else lives under internal/ and cmd/.
package rowgate

import (
	"embed"
	"io/fs"
)

//go:embed sql/*.sql
var migrations embed.FS

//go:embed rls/*.sql
var policies embed.FS

// Migrations is sql/ as an fs.FS rooted at the migration files.
var Migrations = mustSub(migrations, "sql")

// Policies is rls/ as an fs.FS rooted at install.sql.
var Policies = mustSub(policies, "rls")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
