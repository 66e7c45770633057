// Package migrate brings a database to rowgate's current schema: it creates
// the runtime role, applies the tern migrations in sql/, and installs the row
// level security code package in rls/. It needs no superuser: an ordinary
// database owner with CREATEROLE (like Neon's neondb_owner) is enough.
//
// The whole run holds tern's advisory lock, so concurrent runs take turns,
// and running it twice changes nothing the second time.
package migrate
