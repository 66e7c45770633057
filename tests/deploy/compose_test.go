// Package deploy checks the files people deploy rowgate with, without
// Docker: docker-compose.yml is loaded and validated by the Compose
// Specification's own loader (compose-go, the library inside Docker Compose
// v2), then held to what the README promises. The image itself is proven
// by .ci/image.
package deploy

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// repoRoot is the repository's root, two folders up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// loadCompose loads docker-compose.yml as `docker compose` would, with an
// empty environment so that the file's own defaults apply. The loader
// validates the file against the Compose Specification's schema.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	root := repoRoot(t)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithName("rowgate"), cli.WithEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	project, err := cli.ProjectFromOptions(t.Context(), opts)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return project
}

// TestComposeServices: postgres, then a one-shot migrate, then the app,
// both of the latter from the one image built from the Dockerfile here.
func TestComposeServices(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	if got := slices.Sorted(func(yield func(string) bool) {
		for name := range p.Services {
			if !yield(name) {
				return
			}
		}
	}); !slices.Equal(got, []string{"app", "migrate", "postgres"}) {
		t.Fatalf("services = %v, want app, migrate, postgres", got)
	}
	app, migrate := p.Services["app"], p.Services["migrate"]

	t.Run("AppBuildsTheImage", func(t *testing.T) {
		if app.Build == nil {
			t.Fatal("app has no build section")
		}
		if app.Build.Context != repoRoot(t) {
			t.Errorf("app builds from %q, want the repository root %q", app.Build.Context, repoRoot(t))
		}
		dockerfile := app.Build.Dockerfile
		if dockerfile == "" {
			dockerfile = "Dockerfile"
		}
		if _, err := os.Stat(filepath.Join(app.Build.Context, dockerfile)); err != nil {
			t.Errorf("the build's Dockerfile: %v", err)
		}
		for _, arg := range []string{"VERSION", "REVISION"} {
			if _, ok := app.Build.Args[arg]; !ok {
				t.Errorf("app's build passes no %s", arg)
			}
		}
	})
	t.Run("OneBuildOneImage", func(t *testing.T) {
		if migrate.Build != nil {
			t.Error("migrate has its own build section; it runs the image app builds")
		}
		if app.Image == "" || migrate.Image != app.Image {
			t.Errorf("migrate runs image %q, app %q; want the same, named", migrate.Image, app.Image)
		}
		if migrate.PullPolicy != types.PullPolicyNever {
			t.Errorf("migrate's pull_policy is %q: Compose would try to pull a locally built image", migrate.PullPolicy)
		}
	})
	t.Run("MigrateRunsOnceAfterPostgres", func(t *testing.T) {
		if !slices.Equal(migrate.Command, types.ShellCommand{"migrate"}) {
			t.Errorf("migrate's command = %q, want [migrate]", migrate.Command)
		}
		if migrate.Restart != types.RestartPolicyNo {
			t.Errorf("migrate's restart = %q, want no", migrate.Restart)
		}
		wantCondition(t, migrate, "postgres", types.ServiceConditionHealthy)
	})
	t.Run("AppServesAfterMigrate", func(t *testing.T) {
		if !slices.Equal(app.Command, types.ShellCommand{"serve"}) {
			t.Errorf("app's command = %q, want [serve]", app.Command)
		}
		wantCondition(t, app, "migrate", types.ServiceConditionCompletedSuccessfully)
	})
}

func wantCondition(t *testing.T, s types.ServiceConfig, dependency, condition string) {
	t.Helper()
	dep, ok := s.DependsOn[dependency]
	if !ok {
		t.Errorf("%s does not depend on %s", s.Name, dependency)
		return
	}
	if dep.Condition != condition {
		t.Errorf("%s waits for %s to be %q, want %q", s.Name, dependency, dep.Condition, condition)
	}
}

// TestComposeHealthcheck: the app's health check runs the image's own
// binary, at the path the Dockerfile puts it, in exec form: the image has no
// shell.
func TestComposeHealthcheck(t *testing.T) {
	t.Parallel()
	hc := loadCompose(t).Services["app"].HealthCheck
	if hc == nil || hc.Disable {
		t.Fatal("app has no health check")
	}
	entrypoint := dockerfileEntrypoint(t)
	want := types.HealthCheckTest{"CMD", entrypoint, "healthcheck"}
	if !slices.Equal(hc.Test, want) {
		t.Errorf("app's health check = %q, want %q", hc.Test, want)
	}
}

// dockerfileEntrypoint returns the binary the Dockerfile's exec-form
// ENTRYPOINT names.
func dockerfileEntrypoint(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ENTRYPOINT \["([^"]+)"\]$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("the Dockerfile has no exec-form ENTRYPOINT with one element")
	}
	return string(m[1])
}

// TestComposeRunsNoToolchain: nothing builds or runs Go at start-up any
// more: no service runs `go`, uses a golang image, or mounts the sources.
func TestComposeRunsNoToolchain(t *testing.T) {
	t.Parallel()
	for name, s := range loadCompose(t).Services {
		argv := slices.Concat(s.Entrypoint, s.Command)
		if slices.Contains(argv, "go") || strings.Contains(strings.Join(argv, " "), "go run") {
			t.Errorf("%s runs %q", name, argv)
		}
		if strings.HasPrefix(s.Image, "golang") {
			t.Errorf("%s uses the toolchain image %q", name, s.Image)
		}
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				t.Errorf("%s bind-mounts %q", name, v.Source)
			}
		}
	}
}

// TestComposeCredentialsAgree: migrate connects as the owner and gives
// rowgate_app the password the app then connects with.
func TestComposeCredentialsAgree(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	env := func(service, key string) string {
		v := p.Services[service].Environment[key]
		if v == nil {
			t.Fatalf("%s sets no %s", service, key)
		}
		return *v
	}
	admin, err := url.Parse(env("migrate", "ADMIN_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	app, err := url.Parse(env("app", "DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	if admin.User.Username() != "rowgate_owner" || app.User.Username() != "rowgate_app" {
		t.Errorf("migrate connects as %q and app as %q, want rowgate_owner and rowgate_app",
			admin.User.Username(), app.User.Username())
	}
	if pw, _ := app.User.Password(); pw != env("migrate", "ROWGATE_APP_PASSWORD") {
		t.Errorf("app's password %q is not the ROWGATE_APP_PASSWORD migrate sets", pw)
	}
	if admin.Host != app.Host || admin.Path != app.Path {
		t.Errorf("migrate uses %s%s, app %s%s", admin.Host, admin.Path, app.Host, app.Path)
	}
}
