//go:build image

// Package image runs the binary of the built container image inside the
// image's root file system, as the image's non-root user, against a real
// PostgreSQL. .ci/image builds the image, mounts it and runs this test with
//
//	ROWGATE_IMAGE_ROOT      the mounted root file system
//	ROWGATE_IMAGE_USER      the image's USER, uid:gid
//	ROWGATE_IMAGE_REVISION  the revision the image was built with
//
// It needs root (chroot) and the PostgreSQL server binaries.
package image

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/devdb"
	"github.com/rowgate/rowgate/internal/migrate"
	"github.com/rowgate/rowgate/internal/todo"
)

const (
	issuer   = "https://auth.image.test"
	audience = "https://api.image.test"
)

// image is the mounted image: where its root is and whom to run as.
type image struct{ root, user string }

func mountedImage(t *testing.T) image {
	t.Helper()
	img := image{root: os.Getenv("ROWGATE_IMAGE_ROOT"), user: os.Getenv("ROWGATE_IMAGE_USER")}
	if img.root == "" || img.user == "" {
		t.Fatal("ROWGATE_IMAGE_ROOT and ROWGATE_IMAGE_USER are not set: run bash .ci/image")
	}
	return img
}

// command runs /rowgate args inside the image with only env as its
// environment, the way a container runtime would.
func (img image) command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command("chroot", append([]string{"--userspec=" + img.user, img.root, "/rowgate"}, args...)...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestImageServes: the image's binary migrates a fresh database as its
// owner, serves the API as rowgate_app under the image's non-root uid,
// reports ready to its own healthcheck, names its revision in /metrics,
// answers a signed-in caller, and stops cleanly on SIGTERM.
func TestImageServes(t *testing.T) {
	img := mountedImage(t)
	ctx := t.Context()
	dbURL := migratedDatabase(t, ctx, img)
	key, jwksURL := jwksServer(t)
	port, err := devdb.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	env := []string{"DATABASE_URL=" + dbURL, "LISTEN_ADDR=" + listen, "AUTH_JWKS_URL=" + jwksURL,
		"AUTH_ISSUER=" + issuer, "AUTH_AUDIENCE=" + audience, "LOG_FORMAT=json"}
	serve := img.command(env, "serve")
	var logs lockedBuffer
	serve.Stdout, serve.Stderr = &logs, &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	t.Cleanup(func() {
		serve.Process.Kill()
		if t.Failed() {
			t.Logf("serve's output:\n%s", logs.String())
		}
	})

	waitHealthy(t, img, env, exited)
	if uid := processUID(t, serve.Process.Pid); uid != strings.Split(img.user, ":")[0] {
		t.Errorf("serve runs as uid %s, want the image's %s", uid, img.user)
	}
	base := "http://" + listen
	checkBuildInfo(t, base)
	token, err := key.Mint(todo.Caller{ID: "image-user", Email: "image@example.com"}, issuer, audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := call(t, http.MethodGet, base+"/v1/me", token, ""); status != http.StatusOK || !strings.Contains(body, `"image-user"`) {
		t.Errorf("GET /v1/me = %d %s", status, body)
	}
	if status, body := call(t, http.MethodPost, base+"/v1/todos", token, `{"title":"from the image"}`); status != http.StatusCreated {
		t.Errorf("POST /v1/todos = %d %s", status, body)
	}
	if status, _ := call(t, http.MethodGet, base+"/v1/todos", "", ""); status != http.StatusUnauthorized {
		t.Errorf("GET /v1/todos without a token = %d, want 401", status)
	}

	serve.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Error("serve did not stop within 40s of SIGTERM")
	}
}

// migratedDatabase boots a throwaway PostgreSQL, creates an owner role and
// its database as a hosted PostgreSQL arrives, runs the image's `migrate`
// as that owner over TCP, and returns rowgate_app's URL.
func migratedDatabase(t *testing.T, ctx context.Context, img image) string {
	t.Helper()
	port, err := devdb.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := devdb.Start(ctx, devdb.Options{TCPPort: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Stop() })
	const owner, database = "rowgate_owner", "rowgate"
	if err := migrate.Bootstrap(ctx, cluster.URL(devdb.Superuser, "postgres"), owner, "owner-secret", database); err != nil {
		t.Fatal(err)
	}
	out, err := img.command([]string{"ADMIN_DATABASE_URL=" + cluster.TCPURL(owner, database)}, "migrate").CombinedOutput()
	if err != nil {
		t.Fatalf("rowgate migrate in the image: %v\n%s", err, out)
	}
	return cluster.TCPURL(migrate.AppRole, database)
}

// jwksServer serves a fresh development key's JWKS over HTTP on loopback,
// as Better Auth serves its /api/auth/jwks.
func jwksServer(t *testing.T) (*auth.DevKey, string) {
	t.Helper()
	key, err := auth.LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := os.ReadFile(key.JWKSPath())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	}))
	t.Cleanup(srv.Close)
	return key, srv.URL + "/jwks"
}

// waitHealthy polls the image's own `rowgate healthcheck` (the command of
// its HEALTHCHECK) until it exits 0, failing if serve exits first.
func waitHealthy(t *testing.T, img image, env []string, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := img.command(env, "healthcheck", "--timeout", "2s").CombinedOutput()
		if err == nil {
			t.Logf("healthcheck in the image: %s", bytes.TrimSpace(out))
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("serve exited before it was healthy: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy after 60s: %v: %s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// processUID returns the real uid of a running process.
func processUID(t *testing.T, pid int) string {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if fields := strings.Fields(line); len(fields) > 1 && fields[0] == "Uid:" {
			return fields[1]
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
	return ""
}

// checkBuildInfo: /metrics names the revision the image was built from.
func checkBuildInfo(t *testing.T, base string) {
	t.Helper()
	status, body := call(t, http.MethodGet, base+"/metrics", "", "")
	want := fmt.Sprintf(`revision=%q`, os.Getenv("ROWGATE_IMAGE_REVISION"))
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, "rowgate_build_info{") {
			if !strings.Contains(line, want) || !strings.HasSuffix(strings.TrimSpace(line), " 1") {
				t.Errorf("/metrics: %q, want %s and the value 1", line, want)
			}
			return
		}
	}
	t.Errorf("/metrics (%d) has no rowgate_build_info", status)
}

// call sends one request, with a bearer token unless it is empty, and
// returns the status and body.
func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
