package pgtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
)

// BetterAuthSchema is where the test databases keep Better Auth's tables:
// Better Auth's default as rowgate documents it, and migrate's default.
const BetterAuthSchema = "better_auth"

// BetterAuthOrganizationTables returns SQL that creates the two tables of
// Better Auth's organization plugin that rowgate reads, in schema
// better_auth, as Better Auth 1.7.25's own migration creates them for
// PostgreSQL (getMigrations with the organization plugin; its DDL copied,
// not guessed), and grants migrator exactly what docs/better-auth.md tells
// an operator to grant. Better Auth's "user" table is left out, and with it
// member's foreign key to it: rowgate never reads it, and tests add members
// without signing anyone up. Run it as a role other than migrator (the
// superuser here, Better Auth's own role in production), so that migrator
// reads the tables only through the grants.
func BetterAuthOrganizationTables(migrator string) string {
	return `
create schema if not exists better_auth;
create table better_auth."organization" ("id" text not null primary key, "name" text not null, "slug" text not null unique, "logo" text, "createdAt" timestamptz not null, "metadata" text);
create table better_auth."member" ("id" text not null primary key, "organizationId" text not null references better_auth."organization" ("id") on delete cascade, "userId" text not null, "role" text not null, "createdAt" timestamptz not null);
create index "member_organizationId_idx" on better_auth."member" ("organizationId");
create index "member_userId_idx" on better_auth."member" ("userId");
grant usage on schema better_auth to ` + pgx.Identifier{migrator}.Sanitize() + `;
grant select on better_auth.organization, better_auth.member to ` + pgx.Identifier{migrator}.Sanitize() + `;
`
}

// createBetterAuthTables runs BetterAuthOrganizationTables(Owner) as the
// superuser in database.
func (s *server) createBetterAuthTables(ctx context.Context, database string) error {
	conn, err := pgx.Connect(ctx, s.url(s.superuser, "", database))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, BetterAuthOrganizationTables(Owner)); err != nil {
		return fmt.Errorf("create Better Auth's organization tables: %w", err)
	}
	return nil
}

// AddBetterAuth gives a database made by NewEmptyDB what every NewDB
// template has: Better Auth's organization and member tables in schema
// better_auth, readable by Owner. Run migrate afterwards to install the
// app_memberships() that reads them.
func (db *DB) AddBetterAuth(t testing.TB) {
	t.Helper()
	if err := db.srv.createBetterAuthTables(context.Background(), db.Name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}
