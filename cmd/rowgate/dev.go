package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/devdb"
	"github.com/rowgate/rowgate/internal/httpapi"
	"github.com/rowgate/rowgate/internal/migrate"
	"github.com/rowgate/rowgate/internal/todo"
)

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev", stderr)
	listen := fs.String("listen", envOr("LISTEN_ADDR", ":8080"), "address to serve HTTP on (env LISTEN_ADDR)")
	sub := fs.String("sub", "dev-user", "user id of the printed token")
	keyDir := fs.String("key-dir", devKeyDir(), "folder of the development key (env ROWGATE_DEV_DIR)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := newLogger(stderr, "text", envOr("LOG_LEVEL", "info"))

	dbURL, where, stop, err := devDatabase(ctx, stderr)
	if err != nil {
		return err
	}
	defer stop()
	key, err := auth.LoadOrCreateDevKey(*keyDir)
	if err != nil {
		return err
	}
	cfg := serveConfig{
		DatabaseURL: dbURL, ListenAddr: *listen, JWKSFile: key.JWKSPath(),
		Issuer: devIssuer, Audience: devAudience, ClockSkew: 30 * time.Second,
		LogFormat: "text", LogLevel: "info", RequestTimeout: 10 * time.Second,
		StatementTimeout: 5 * time.Second, ShutdownTimeout: 5 * time.Second, PprofAddr: os.Getenv("PPROF_ADDR"),
		// The same limits as serve's defaults, so dev behaves like production.
		RateLimitRPS: httpapi.DefaultUserRPS, RateLimitBurst: httpapi.DefaultUserBurst,
		RateLimitAnonRPS: httpapi.DefaultAnonRPS, RateLimitAnonBurst: httpapi.DefaultAnonBurst,
	}
	token, err := key.Mint(todo.Caller{ID: *sub, Email: *sub + "@example.com", Name: "Dev User"}, devIssuer, devAudience, 24*time.Hour)
	if err != nil {
		return err
	}
	tuneGC()
	return serve(ctx, cfg, log, func(addr string) {
		printWelcome(stdout, baseURL(addr), where, token, key.JWKSPath(), *sub)
	})
}

// devDatabase returns the URL the API connects with. With DATABASE_URL set
// it uses that (migrating first through ADMIN_DATABASE_URL when that is
// set); otherwise it boots a throwaway cluster, bootstraps an owner and a
// database the way a hosted PostgreSQL arrives, and migrates it as that
// owner. stop removes the throwaway cluster.
func devDatabase(ctx context.Context, progress io.Writer) (url, where string, stop func(), err error) {
	if url := os.Getenv("DATABASE_URL"); url != "" {
		if admin := os.Getenv("ADMIN_DATABASE_URL"); admin != "" {
			if err := migrate.Run(ctx, admin, migrate.Options{Progress: progress, AppPassword: os.Getenv("ROWGATE_APP_PASSWORD"), BetterAuthSchema: os.Getenv("BETTER_AUTH_SCHEMA")}); err != nil {
				return "", "", nil, err
			}
		}
		return url, "DATABASE_URL", func() {}, nil
	}
	port, err := devdb.FreePort()
	if err != nil {
		return "", "", nil, err
	}
	fmt.Fprintln(progress, "dev: starting a throwaway PostgreSQL from the installed binaries")
	cluster, err := devdb.Start(ctx, devdb.Options{TCPPort: port})
	if err != nil {
		return "", "", nil, err
	}
	stop = func() { cluster.Stop() }
	const owner, database = "rowgate_owner", "rowgate"
	if err := migrate.Bootstrap(ctx, cluster.URL(devdb.Superuser, "postgres"), owner, "rowgate_owner", database); err != nil {
		stop()
		return "", "", nil, err
	}
	if err := migrate.Run(ctx, cluster.URL(owner, database), migrate.Options{Progress: progress, BetterAuthSchema: os.Getenv("BETTER_AUTH_SCHEMA")}); err != nil {
		stop()
		return "", "", nil, err
	}
	where = "throwaway, removed on exit; psql " + cluster.TCPURL(owner, database)
	return cluster.URL(migrate.AppRole, database), where, stop, nil
}

func printWelcome(w io.Writer, base, where, token, jwks, sub string) {
	fmt.Fprintf(w, `
rowgate dev is serving on %[1]s
  database:  %[2]s
  JWKS:      %[4]s (the development key; iss = aud = %[5]s)
  token:     for user %[6]q, valid 24h; mint more with: go run ./cmd/rowgate token --sub <id>

Paste this:

curl -s %[1]s/v1/me -H 'Authorization: Bearer %[3]s'

Or keep the token and try the todos:

export TOKEN='%[3]s'
curl -s -X POST %[1]s/v1/todos -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"title":"hello, rowgate"}'
curl -s %[1]s/v1/todos -H "Authorization: Bearer $TOKEN"

Ctrl-C stops the server and removes the throwaway database.
`, base, where, token, jwks, devIssuer, sub)
}

// baseURL turns a listen address into a URL a browser or curl can use.
func baseURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "::" || host == "0.0.0.0" || strings.HasPrefix(host, "[::") {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
