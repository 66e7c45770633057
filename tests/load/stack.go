package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/devdb"
	"github.com/rowgate/rowgate/internal/migrate"
	"github.com/rowgate/rowgate/internal/postgres"
)

const (
	issuer   = "rowgate-load"
	audience = "rowgate-load"
	owner    = "rowgate_owner"
	dbName   = "rowgate"
)

// stack is the service under load: a base URL, the database behind it and
// the key its tokens are signed with.
type stack struct {
	base     string
	appURL   string // rowgate_app, for seeding and pgbench
	superURL string // own stack only: a superuser, for the bypass comparison
	key      *auth.DevKey
	o        options

	cluster     *devdb.Cluster
	primaryData string     // the cluster's data directory, for its CPU
	standbys    []*standby // -replicas: streaming standbys of cluster
	replicaURLs []string   // DATABASE_REPLICA_URLS of the servers started from now on
	tmp         string
	bin         string
	server      *proc // the current server; nil with -target
}

// standby is a streaming standby of the stack's cluster, which servers may
// use as a replica.
type standby struct {
	c    *devdb.Cluster
	data string // its data directory, for its CPU
	url  string // rowgate_app on the load database
	name string // as the server's /metrics names it
}

// openStack boots the own stack, or checks -target is on loopback.
func openStack(ctx context.Context, o options) (*stack, error) {
	if o.target != "" {
		return targetStack(o)
	}
	st := &stack{o: o}
	var err error
	if st.tmp, err = os.MkdirTemp("", "rowgate-load-"); err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "load: starting PostgreSQL, migrating, building rowgate")
	st.cluster, err = devdb.Start(ctx, devdb.Options{Settings: clusterSettings(o)})
	if err != nil {
		st.close()
		return nil, err
	}
	st.superURL = st.cluster.URL(devdb.Superuser, dbName)
	if st.primaryData, err = dataDirectory(ctx, st.cluster); err != nil {
		st.close()
		return nil, err
	}
	if err := migrate.Bootstrap(ctx, st.cluster.URL(devdb.Superuser, "postgres"), owner, "owner", dbName); err != nil {
		st.close()
		return nil, err
	}
	if err := migrate.Run(ctx, st.cluster.URL(owner, dbName), migrate.Options{}); err != nil {
		st.close()
		return nil, err
	}
	st.appURL = st.cluster.URL(migrate.AppRole, dbName)
	if st.key, err = auth.LoadOrCreateDevKey(filepath.Join(st.tmp, "key")); err != nil {
		st.close()
		return nil, err
	}
	st.bin = filepath.Join(st.tmp, "rowgate")
	build := exec.CommandContext(ctx, "go", "build", "-o", st.bin, "./cmd/rowgate")
	build.Dir, build.Stderr = moduleRoot(), os.Stderr
	if err := build.Run(); err != nil {
		st.close()
		return nil, fmt.Errorf("build rowgate: %w", err)
	}
	if err := st.startServer(ctx, st.bin, o.dbMaxConns); err != nil {
		st.close()
		return nil, err
	}
	return st, nil
}

// clusterSettings are the PostgreSQL settings of the stack's cluster (its
// standbys start with the same). With -replicas, commits are synchronous
// (fsync stays off): with devdb's asynchronous commit a commit's WAL is
// written, and so sent to the standbys, only when the WAL writer next
// wakes (wal_writer_delay, 200 ms), so every read after a write would wait
// out REPLICA_WAIT and go to the primary; that measures devdb, not
// rowgate. PostgreSQL's default, and production's, is synchronous.
func clusterSettings(o options) map[string]string {
	s := map[string]string{"shared_buffers": "2GB", "jit": "off", "max_connections": "400", "max_wal_size": "8GB"}
	if o.replicas {
		s["synchronous_commit"] = "on"
	}
	return s
}

// openSeeded opens the stack and seeds o.users users with todos each.
// Call close on the stack when done.
func openSeeded(ctx context.Context, o options, todos int) (*stack, *population, error) {
	st, err := openStack(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	pop, err := seed(ctx, st, o.users, todos)
	if err != nil {
		st.close()
		return nil, nil, err
	}
	return st, pop, nil
}

func targetStack(o options) (*stack, error) {
	u, err := url.Parse(o.target)
	if err != nil || !loopback(u.Hostname()) {
		return nil, fmt.Errorf("-target %q: only loopback targets are allowed", o.target)
	}
	if o.databaseURL == "" || o.keyDir == "" {
		return nil, fmt.Errorf("-target needs -database-url (rowgate_app) and -key-dir (the key the server trusts)")
	}
	key, err := auth.LoadOrCreateDevKey(o.keyDir)
	if err != nil {
		return nil, err
	}
	return &stack{base: strings.TrimSuffix(o.target, "/"), appURL: o.databaseURL, key: key, o: o}, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startServer replaces the stack's server with bin (see startProc); its
// address becomes st.base.
func (st *stack) startServer(ctx context.Context, bin string, maxConns int) error {
	st.stopServer() // one current server at a time
	p, err := st.startProc(ctx, bin, maxConns)
	if err != nil {
		return err
	}
	st.server, st.base = p, p.base
	return nil
}

// serverEnv is the environment of every server the tool starts: the
// tool's own, the stack's settings, then -server-env, which wins because
// the last of duplicate names is the one a process sees.
func (st *stack) serverEnv(addr string, maxConns int, appURL string) []string {
	env := append(os.Environ(),
		"DATABASE_URL="+appURL, "LISTEN_ADDR="+addr,
		"AUTH_JWKS_FILE="+st.key.JWKSPath(), "AUTH_ISSUER="+issuer, "AUTH_AUDIENCE="+audience,
		"LOG_LEVEL=warn", "DB_MAX_CONNS="+strconv.Itoa(maxConns), "PPROF_ADDR="+st.o.pprof,
		"DATABASE_REPLICA_URLS="+strings.Join(st.replicaURLs, ","))
	return append(env, st.o.serverEnv...)
}

// restartServer replaces the server process, e.g. with another pool size.
func (st *stack) restartServer(ctx context.Context, maxConns int) error {
	if st.server == nil {
		return fmt.Errorf("cannot restart a -target server")
	}
	return st.startServer(ctx, st.bin, maxConns)
}

// stopServer stops the stack's server, if it runs one.
func (st *stack) stopServer() {
	if st.server != nil {
		st.server.stop()
		st.server = nil
	}
}

// rss returns the server's resident memory now and at its peak, in bytes
// (0 with -target).
func (st *stack) rss() (now, peak int64) {
	if st.server == nil {
		return 0, 0
	}
	return st.server.rss()
}

func (st *stack) close() {
	st.stopServer()
	for _, s := range st.standbys {
		s.c.Stop()
	}
	if st.cluster != nil {
		st.cluster.Stop()
	}
	if st.tmp != "" {
		os.RemoveAll(st.tmp)
	}
}

// moduleRoot is the folder of go.mod, so the tool works from any folder of
// the checkout.
func moduleRoot() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "."
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// startStandbys starts n streaming standbys of the stack's cluster, as
// devdb makes them (pg_basebackup -R; the primary's settings). Servers
// started afterwards use none of them until useReplicas says so.
func (st *stack) startStandbys(ctx context.Context, n int) error {
	fmt.Fprintf(os.Stderr, "load: starting %d streaming standbys\n", n)
	for i := range n {
		c, err := devdb.StartStandby(ctx, st.cluster, devdb.StandbyOptions{ApplicationName: fmt.Sprintf("load_standby%d", i+1)})
		if err != nil {
			return err
		}
		s := &standby{c: c, url: c.URL(migrate.AppRole, dbName)}
		s.name = postgres.ReplicaName(s.url)
		st.standbys = append(st.standbys, s)
		if s.data, err = dataDirectory(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// catchUp waits until every standby has replayed what the primary has
// written so far.
func (st *stack) catchUp(ctx context.Context) error {
	lsn, err := st.cluster.CurrentLSN(ctx)
	if err != nil {
		return err
	}
	for _, s := range st.standbys {
		if err := s.c.WaitForReplay(ctx, lsn); err != nil {
			return err
		}
	}
	return nil
}

// useReplicas restarts the server with the first n standbys as its
// replicas (DATABASE_REPLICA_URLS).
func (st *stack) useReplicas(ctx context.Context, n int) error {
	st.replicaURLs = nil
	for _, s := range st.standbys[:n] {
		st.replicaURLs = append(st.replicaURLs, s.url)
	}
	return st.startServer(ctx, st.bin, st.o.dbMaxConns)
}
