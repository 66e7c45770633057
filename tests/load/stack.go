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

	cluster *devdb.Cluster
	tmp     string
	bin     string
	server  *proc // the current server; nil with -target
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
	st.cluster, err = devdb.Start(ctx, devdb.Options{Settings: map[string]string{
		"shared_buffers": "2GB", "jit": "off", "max_connections": "400", "max_wal_size": "8GB",
	}})
	if err != nil {
		st.close()
		return nil, err
	}
	st.superURL = st.cluster.URL(devdb.Superuser, dbName)
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
		"LOG_LEVEL=warn", "DB_MAX_CONNS="+strconv.Itoa(maxConns), "PPROF_ADDR="+st.o.pprof)
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
