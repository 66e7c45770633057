package pgtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowgate/rowgate/internal/migrate"
)

// DB is one test's own migrated database. It is dropped when the test ends.
type DB struct {
	Name string
	srv  *server
}

// NewDB clones the migrated template into a new database for t.
func NewDB(t testing.TB) *DB {
	t.Helper()
	s := get(t)
	return newDB(t, s, "template "+pgx.Identifier{s.template}.Sanitize())
}

// NewEmptyDB creates a new database owned by Owner with nothing migrated.
func NewEmptyDB(t testing.TB) *DB {
	t.Helper()
	return newDB(t, get(t), "")
}

func newDB(t testing.TB, s *server, template string) *DB {
	t.Helper()
	name := fmt.Sprintf("t_%s_%d", s.template[len("rowgate_template_"):], counter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stmt := "create database " + pgx.Identifier{name}.Sanitize() + " " + template + " owner " + Owner
	if _, err := s.admin.Exec(ctx, stmt); err != nil {
		t.Fatalf("pgtest: %s: %v", stmt, err)
	}
	if s.private {
		return &DB{Name: name, srv: s} // the cluster goes with t
	}
	s.dbs.Store(name, struct{}{})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.admin.Exec(ctx, "drop database if exists "+pgx.Identifier{name}.Sanitize()+" with (force)")
		s.dbs.Delete(name)
	})
	return &DB{Name: name, srv: s}
}

// Superuser returns the name of the server's superuser login.
func (db *DB) Superuser() string { return db.srv.superuser }

// URL returns a connection URL to this database as role, which is Owner,
// App, Superuser() or a role the test created with password Password.
func (db *DB) URL(role string) string {
	return db.srv.url(role, passwordOf(role), db.Name)
}

// Password is the password pgtest gives roles a test creates with
// CreateRole, so URL can log in as them on a server that checks passwords.
const Password = "rowgate-role-test"

func passwordOf(role string) string {
	switch role {
	case Owner:
		return OwnerPassword
	case App:
		return AppPassword
	}
	return Password
}

// Conn connects to this database as role; the connection closes with t.
func (db *DB) Conn(t testing.TB, role string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), db.URL(role))
	if err != nil {
		t.Fatalf("pgtest: connect as %s: %v", role, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// ConnTo connects to url (a server of the test's own, such as a standby);
// the connection closes with t.
func ConnTo(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Pool opens a pool to this database as role; it closes with t.
func (db *DB) Pool(t testing.TB, role string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), db.URL(role))
	if err != nil {
		t.Fatalf("pgtest: pool as %s: %v", role, err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Exec runs sql as the superuser in this database, failing t on error. For
// fixtures that must bypass row level security.
func (db *DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	conn := db.Conn(t, db.srv.superuser)
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// CreateRole creates a login role with Password on the server (roles are
// cluster-wide) if it does not exist yet.
func (db *DB) CreateRole(t testing.TB, name string) {
	t.Helper()
	ctx := context.Background()
	var stmt string
	err := db.srv.admin.QueryRow(ctx, `select format('create role %I login password %L', $1::text, $2::text)`, name, Password).Scan(&stmt)
	if err == nil {
		_, err = db.srv.admin.Exec(ctx, stmt)
	}
	if err != nil && !isDuplicate(err) {
		t.Fatalf("pgtest: create role %s: %v", name, err)
	}
}

// ServerURL returns a superuser URL to the maintenance database, for tests
// that need the server itself (for example to start a pooler in front).
func ServerURL(t testing.TB) string {
	t.Helper()
	return get(t).base.String()
}

func isDuplicate(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) &&
		(pgErr.Code == pgerrcode.DuplicateObject || pgErr.Code == pgerrcode.UniqueViolation)
}

// External reports whether the tests run against TEST_DATABASE_URL, a server
// other test binaries may share, rather than their own throwaway cluster.
func External(t testing.TB) bool {
	t.Helper()
	return get(t).cluster == nil
}

// SecurityState is what neither a second migrate nor an audit may change:
// the schema's security snapshot (see migrate.Snapshot) plus the oids of
// policies and public functions, which a drop and re-create would change
// even when their text stays the same.
func SecurityState(t testing.TB, conn *pgx.Conn) string {
	t.Helper()
	ctx := context.Background()
	snap, err := migrate.Snapshot(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	var oids string
	err = conn.QueryRow(ctx, `select coalesce(string_agg(oid::text, ',' order by oid), '') from (
		select oid from pg_policy union all
		select oid from pg_proc where pronamespace = 'public'::regnamespace) o`).Scan(&oids)
	if err != nil {
		t.Fatal(err)
	}
	return snap + "|" + oids
}

// TerminateBackends ends every session role has on db's database
// (pg_terminate_backend, SQLSTATE 57P01 to each), as a Neon suspend, a
// pooler's server_lifetime rotation or a failover does, and waits until
// they are gone. It returns how many it ended.
func (db *DB) TerminateBackends(t testing.TB, role string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := db.Conn(t, db.srv.superuser)
	var pids []int32
	// Materialized, so that pg_terminate_backend cannot be pushed down
	// below the filters and reach other sessions.
	err := conn.QueryRow(ctx, `with victims as materialized (
			select pid from pg_stat_activity where datname = $1 and usename = $2 and pid <> pg_backend_pid())
		select coalesce(array_agg(pid), '{}') from victims where pg_terminate_backend(pid)`,
		db.Name, role).Scan(&pids)
	for err == nil {
		var left int
		if err = conn.QueryRow(ctx, `select count(*) from pg_stat_activity where pid = any($1)`, pids).Scan(&left); err != nil || left == 0 {
			break
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err != nil {
		t.Fatalf("pgtest: terminate the sessions of %s: %v", role, err)
	}
	return len(pids)
}
