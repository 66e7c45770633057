package devdb

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStartStop(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a PostgreSQL cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(c.Dir, ".s.PGSQL.5432")
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("socket %s: %v", sock, err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Fatalf("Stop left %s behind", c.Dir)
	}
}

func TestFindBinDir(t *testing.T) {
	dir, err := FindBinDir()
	if err != nil {
		t.Skip(err)
	}
	if !hasServer(dir) {
		t.Fatalf("FindBinDir returned %s, which lacks initdb or postgres", dir)
	}
}

func TestFindBinDirNone(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if len(debianBinDirs()) > 0 {
		t.Skip("this machine has /usr/lib/postgresql/*/bin")
	}
	if _, err := FindBinDir(); err != ErrNoPostgres {
		t.Fatalf("err = %v, want ErrNoPostgres", err)
	}
}
