package pgtest

import (
	"context"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate/internal/devdb"
)

// NewClusterDB boots a PostgreSQL cluster of t's own (see devdb.Options:
// TCPPort, Durable, Settings) with a migrated database and its logins, as
// NewDB gives on the shared server. Use it for tests that restart, crash,
// stop or replicate the server, which must never happen to the shared one.
// The cluster is stopped and removed when t ends. Booting one takes
// seconds (initdb and the migrations), so keep them few.
func NewClusterDB(t testing.TB, opts devdb.Options) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := devdb.Start(ctx, opts)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	s := &server{template: "rowgate_template_" + randomSuffix(), private: true}
	s.useCluster(c)
	t.Cleanup(s.close)
	if err := s.setup(ctx); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return newDB(t, s, "template "+pgx.Identifier{s.template}.Sanitize())
}

// StartStandby starts a streaming standby of primary (see
// devdb.StartStandby), failing t on error and stopping it when t ends. A
// physical standby has every database of its primary: reach a DB there with
// standby.URL(role, db.Name).
func StartStandby(t testing.TB, primary *devdb.Cluster, opts devdb.StandbyOptions) *devdb.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := devdb.StartStandby(ctx, primary, opts)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// Cluster returns the cluster of a database made by NewClusterDB, which t
// may restart, crash or replicate; nil for a database on the shared server.
func (db *DB) Cluster() *devdb.Cluster {
	if !db.srv.private {
		return nil
	}
	return db.srv.cluster
}

// ServerAddr returns where db's server listens: the path of its unix
// socket, or host:port. A proxy in front of the server dials it.
func (db *DB) ServerAddr() string {
	host, port := serverHostPort(db.srv.base)
	if strings.HasPrefix(host, "/") {
		return filepath.Join(host, ".s.PGSQL."+port)
	}
	return net.JoinHostPort(host, port)
}

// URLAt returns db.URL(role) with the server's address replaced by addr
// (host:port), for a proxy or a pooler in front of the server.
func (db *DB) URLAt(addr, role string) string {
	u, _ := url.Parse(db.URL(role))
	q := u.Query()
	q.Del("host")
	q.Del("port")
	u.RawQuery = q.Encode()
	u.Host = addr
	return u.String()
}

// serverHostPort returns the host (a socket folder or a name) and port of
// a server URL, in either of the forms libpq accepts.
func serverHostPort(u *url.URL) (host, port string) {
	host, port = u.Query().Get("host"), u.Query().Get("port")
	if host == "" {
		host = u.Hostname()
	}
	if port == "" {
		port = u.Port()
	}
	if port == "" {
		port = "5432"
	}
	return host, port
}
