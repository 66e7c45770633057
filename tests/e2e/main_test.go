//go:build e2e

// Package e2e proves rowgate against the real Better Auth server in
// examples/better-auth: real sign-ups, real JWTs from GET /api/auth/token,
// the real JWKS, and the real rowgate binary, each a child process.
//
//	npm ci --prefix examples/better-auth
//	go test -tags e2e -count=1 -v ./tests/e2e/
//
// TestMain builds rowgate once, boots one throwaway PostgreSQL cluster,
// bootstraps an owner role and the database "rowgate" and runs `rowgate
// migrate` as that owner. Every Better Auth instance connects as the same
// owner but keeps its tables in a schema of its own (one per test), so each
// starts with no signing key and mints one with the algorithm asked for.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/devdb"
	"github.com/rowgate/rowgate/internal/migrate"
)

// The database every test shares. Tests never collide in it: each Better
// Auth instance has its own schema, and users in rowgate are keyed by the
// random ids Better Auth issues.
const (
	ownerRole     = "rowgate_owner"
	ownerPassword = "rowgate-owner-e2e" // the cluster trusts its socket; unused
	database      = "rowgate"
)

// env is what TestMain prepared for the tests.
var env struct {
	root       string // repository root
	cluster    *devdb.Cluster
	rowgateBin string // the rowgate binary built from ./cmd/rowgate
	superURL   string // superuser, database "rowgate"
	ownerURL   string // the database owner: migrations and Better Auth
	appURL     string // rowgate_app: what `rowgate serve` connects as
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "rowgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cluster, err := setup(ctx, tmp)
	cancel()
	if cluster != nil {
		defer cluster.Stop()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// setup checks the prerequisites, builds rowgate, boots PostgreSQL and
// migrates it with the real binary. The returned cluster, if any, must be
// stopped even when err is not nil.
func setup(ctx context.Context, tmp string) (*devdb.Cluster, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return nil, err
	}
	env.root = root
	if err := checkPrerequisites(root); err != nil {
		return nil, err
	}
	env.rowgateBin = filepath.Join(tmp, "rowgate")
	build := exec.CommandContext(ctx, "go", "build", "-o", env.rowgateBin, "./cmd/rowgate")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/rowgate: %v\n%s", err, out)
	}
	cluster, err := devdb.Start(ctx, devdb.Options{})
	if err != nil {
		return nil, err
	}
	env.cluster = cluster
	env.superURL = cluster.URL(devdb.Superuser, database)
	env.ownerURL = cluster.URL(ownerRole, database)
	env.appURL = cluster.URL(migrate.AppRole, database)
	if err := migrate.Bootstrap(ctx, cluster.URL(devdb.Superuser, "postgres"), ownerRole, ownerPassword, database); err != nil {
		return cluster, err
	}
	mig := exec.CommandContext(ctx, env.rowgateBin, "migrate", "--database-url", env.ownerURL)
	mig.Env = childEnv()
	if out, err := mig.CombinedOutput(); err != nil {
		return cluster, fmt.Errorf("rowgate migrate: %v\n%s", err, out)
	}
	return cluster, nil
}

// checkPrerequisites fails with what to run when Node.js or the example's
// npm packages are missing.
func checkPrerequisites(root string) error {
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return fmt.Errorf("cannot find the repository root from %s: %w", root, err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("node is not on PATH: the end-to-end test runs the real Better Auth, which needs Node.js 20.19 or newer")
	}
	pkg := filepath.Join(root, "examples", "better-auth", "node_modules", "better-auth", "package.json")
	if _, err := os.Stat(pkg); err != nil {
		return errors.New("examples/better-auth/node_modules is missing or incomplete.\n" +
			"Install the pinned Better Auth first, from the repository root:\n\n" +
			"    npm ci --prefix examples/better-auth\n")
	}
	return nil
}
