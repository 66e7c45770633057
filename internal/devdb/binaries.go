package devdb

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrNoPostgres means no PostgreSQL server binaries were found.
var ErrNoPostgres = errors.New(`no PostgreSQL server binaries found (looked for initdb and postgres on PATH and in /usr/lib/postgresql/*/bin).
Install the server, version 15 or newer:
  Debian/Ubuntu:  sudo apt-get install postgresql        (or postgresql-15, postgresql-16, ...)
  macOS:          brew install postgresql@17
or point the tests at a running server with TEST_DATABASE_URL=postgres://superuser@host/db`)

// minMajor is the oldest PostgreSQL major version rowgate supports.
const minMajor = 15

// FindBinDir returns the folder holding initdb and postgres. It prefers the
// folder of initdb on PATH, then the newest /usr/lib/postgresql/N/bin, and
// refuses versions older than 15.
func FindBinDir() (string, error) {
	candidates := []string{}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		candidates = append(candidates, filepath.Dir(p))
	}
	candidates = append(candidates, debianBinDirs()...)
	for _, dir := range candidates {
		if !hasServer(dir) {
			continue
		}
		major, err := serverMajor(dir)
		if err != nil {
			return "", err
		}
		if major < minMajor {
			continue
		}
		return dir, nil
	}
	return "", ErrNoPostgres
}

// debianBinDirs lists /usr/lib/postgresql/N/bin, newest first.
func debianBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	return dirs
}

func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

// serverMajor runs `postgres --version` ("postgres (PostgreSQL) 15.18 ...").
func serverMajor(dir string) (int, error) {
	out, err := exec.Command(filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("devdb: %s/postgres --version: %w", dir, err)
	}
	fields := strings.Fields(string(out))
	if len(fields) < 3 {
		return 0, fmt.Errorf("devdb: unexpected version output %q", out)
	}
	major, err := strconv.Atoi(strings.SplitN(fields[2], ".", 2)[0])
	if err != nil {
		return 0, fmt.Errorf("devdb: unexpected version output %q", out)
	}
	return major, nil
}
