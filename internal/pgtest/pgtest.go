// Package pgtest gives every test its own PostgreSQL database, cloned from a
// migrated template, so tests run in parallel against the real thing.
//
// When TEST_DATABASE_URL is unset, the first test that asks for a database
// boots a throwaway cluster (see devdb) that lives as long as the test
// binary. When it is set, it must name a superuser of a PostgreSQL 15+
// server; pgtest creates its roles and databases there and drops the
// databases when done.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// # Faults, replicas and poolers
//
// The shared server must never be restarted or crashed: other tests use it
// in parallel. A test that takes PostgreSQL down gets a cluster of its own
// with NewClusterDB (a migrated database, the same logins, db.Cluster() to
// drive it with devdb's Restart, Crash, StopServer, StartServer), and
// standbys of it with StartStandby:
//
//	db := pgtest.NewClusterDB(t, devdb.Options{TCPPort: port, Durable: true})
//	standby := pgtest.StartStandby(t, db.Cluster(), devdb.StandbyOptions{ApplicationName: "s1"})
//	replicaURL := standby.URL(pgtest.App, db.Name)
//
// StartBouncer runs a real PgBouncer (transaction mode by default) in front
// of any DB, on a unix socket at port 6432 (BouncerPort) or, with
// BouncerOptions.TCP, on 127.0.0.1 at a random free port; it can be
// killed, started and restarted on the same port, and driven through its
// admin console (Admin: RECONNECT, KILL, PAUSE, SHOW ...). Without
// pgbouncer installed the test is skipped, or fails when CI is set.
//
// StartProxy puts a fault-injecting TCP proxy in front of a server
// (DB.ServerAddr) for the faults PostgreSQL itself cannot make on demand:
// ResetAll resets every open connection, Cut(CutRequest) loses a request
// before the server sees it, Cut(CutReply) loses the answer to one it
// executed, Refuse refuses new connections, Blackhole holds every byte, and
// SetLatency slows them. Reach a database through it with
// db.URLAt(p.Addr(), role). TerminateBackends ends every session of a role,
// as a Neon suspend, a pooler's server_lifetime or a failover does.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowgate/rowgate/internal/devdb"
	"github.com/rowgate/rowgate/internal/migrate"
)

// The logins every test database has. Owner owns the tables and ran the
// migrations (an ordinary role with CREATEROLE, not a superuser); App is the
// runtime role the API uses.
const (
	Owner = "rowgate_owner"
	App   = migrate.AppRole
)

// Passwords of the test logins; the throwaway cluster trusts its socket and
// ignores them.
const (
	OwnerPassword = "rowgate-owner-test"
	AppPassword   = "rowgate-app-test"
)

type server struct {
	cluster   *devdb.Cluster // nil when TEST_DATABASE_URL is used
	private   bool           // cluster belongs to one test (NewClusterDB)
	base      *url.URL       // superuser URL to the maintenance database
	superuser string
	admin     *pgxpool.Pool
	template  string
	dbs       sync.Map // name -> struct{}, for cleanup on an external server
}

var (
	once    sync.Once
	srv     *server
	srvErr  error
	counter atomic.Int64
)

// Main runs the tests and then stops the cluster, if one was booted.
func Main(m *testing.M) {
	code := m.Run()
	if srv != nil {
		srv.close()
	}
	os.Exit(code)
}

func get(t testing.TB) *server {
	t.Helper()
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		srv, srvErr = boot(ctx)
	})
	if srvErr != nil {
		t.Fatalf("pgtest: %v", srvErr)
	}
	return srv
}

func boot(ctx context.Context) (*server, error) {
	s := &server{template: "rowgate_template_" + randomSuffix()}
	if env := os.Getenv("TEST_DATABASE_URL"); env != "" {
		u, err := url.Parse(env)
		if err != nil || u.User == nil {
			return nil, fmt.Errorf("TEST_DATABASE_URL must be a postgres:// URL naming a superuser: %v", err)
		}
		s.base, s.superuser = u, u.User.Username()
	} else {
		c, err := devdb.Start(ctx, devdb.Options{})
		if err != nil {
			return nil, err
		}
		s.useCluster(c)
	}
	if err := s.setup(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *server) useCluster(c *devdb.Cluster) {
	s.cluster = c
	s.base, _ = url.Parse(c.URL(devdb.Superuser, "postgres"))
	s.superuser = devdb.Superuser
}

// setup creates the owner role and a template database owned by it, gives
// it Better Auth's organization tables (see AddBetterAuth), and migrates
// the template as the owner, proving no superuser is needed. Every NewDB
// therefore has the real app_memberships(); a database without Better
// Auth's tables is NewEmptyDB's, migrated by the test.
func (s *server) setup(ctx context.Context) error {
	var err error
	if s.admin, err = pgxpool.New(ctx, s.base.String()); err != nil {
		return err
	}
	if err := migrate.Bootstrap(ctx, s.base.String(), Owner, OwnerPassword, s.template); err != nil {
		return err
	}
	if err := s.createBetterAuthTables(ctx, s.template); err != nil {
		return err
	}
	err = migrate.Run(ctx, s.url(Owner, OwnerPassword, s.template), migrate.Options{AppPassword: AppPassword})
	if err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	return nil
}

func (s *server) url(user, password, database string) string {
	u := *s.base
	if s.cluster != nil || user == s.superuser {
		u.User = s.base.User
		if user != s.superuser {
			u.User = url.User(user)
		}
	} else {
		u.User = url.UserPassword(user, password)
	}
	u.Path = "/" + database
	return u.String()
}

func (s *server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if s.cluster != nil {
		if s.admin != nil {
			s.admin.Close()
		}
		s.cluster.Stop()
		return
	}
	if s.admin == nil {
		return
	}
	s.dbs.Range(func(name, _ any) bool {
		s.admin.Exec(ctx, "drop database if exists "+pgx.Identifier{name.(string)}.Sanitize()+" with (force)")
		return true
	})
	s.admin.Exec(ctx, "drop database if exists "+pgx.Identifier{s.template}.Sanitize()+" with (force)")
	s.admin.Close()
}

func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}
