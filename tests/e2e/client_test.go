//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/devdb"
	"github.com/rowgate/rowgate/internal/migrate"
)

// TestTypeScriptClient runs clients/typescript/test/live.ts, compiled with
// the package's pinned tsc, against a real rowgate that has a streaming
// read replica (so that writes answer a Consistency-Token) and a real
// Better Auth. The script signs a user up and fails on the first broken
// expectation of the typed client: create with only a title, list, patch,
// delete, the Consistency-Token round trip and Idempotency-Key replays.
func TestTypeScriptClient(t *testing.T) {
	dir := filepath.Join(env.root, "clients", "typescript")
	requireNodeModules(t, dir, "clients/typescript", "typescript", "openapi-fetch")
	out := compileTypeScript(t, dir)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	standby, err := devdb.StartStandby(ctx, env.cluster, devdb.StandbyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standby.Stop() })

	ba := startBetterAuth(t, "ba_client")
	rg := startRowgate(t, wiredTo(ba), true, "DATABASE_REPLICA_URLS="+standby.URL(migrate.AppRole, database))
	live := exec.CommandContext(ctx, "node", filepath.Join(out, "test", "live.js"))
	live.Env = childEnv("ROWGATE_URL="+rg.base, "BETTER_AUTH_URL="+ba.base)
	b, err := live.CombinedOutput()
	t.Logf("node test/live.js:\n%s", b)
	if err != nil {
		t.Fatalf("the TypeScript client's live check failed: %v", err)
	}
}

// requireNodeModules fails with the npm command to run when the package
// in dir (rel from the repository root) lacks any of pkgs.
func requireNodeModules(t *testing.T, dir, rel string, pkgs ...string) {
	t.Helper()
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", p, "package.json")); err != nil {
			t.Fatalf("%s/node_modules lacks %s. Install the pinned packages first, from the repository root:\n\n    npm ci --prefix %s\n", rel, p, rel)
		}
	}
}

// compileTypeScript compiles the package in dir with its own tsc into a
// temporary folder and returns that folder. The folder gets a package.json
// saying "type": "module" and a link to dir's node_modules, so node runs
// the output as ES modules and resolves its imports; nothing is written
// into the repository.
func compileTypeScript(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	tsc := exec.Command(filepath.Join(dir, "node_modules", ".bin", "tsc"), "-p", dir, "--outDir", out)
	tsc.Env = childEnv()
	if b, err := tsc.CombinedOutput(); err != nil {
		t.Fatalf("tsc -p %s: %v\n%s", dir, err, b)
	}
	if err := os.WriteFile(filepath.Join(out, "package.json"), []byte(`{"type":"module"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "node_modules"), filepath.Join(out, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return out
}
