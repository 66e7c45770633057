package postgres_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/rowgate/rowgate/internal/pgtest"
	"github.com/rowgate/rowgate/internal/postgres"
	"github.com/rowgate/rowgate/internal/todo"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var (
	alice = todo.Caller{ID: "alice0000000000000000000000000aa", Email: "alice@example.com", Name: "Alice"}
	bob   = todo.Caller{ID: "bob00000000000000000000000000bbb"}
)

// roundTrips counts network round trips: a write followed by a read.
type roundTrips struct{ n atomic.Int64 }

type countingConn struct {
	net.Conn
	wrote atomic.Bool
	trips *roundTrips
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.wrote.Store(true)
	return c.Conn.Write(b)
}

func (c *countingConn) Read(b []byte) (int, error) {
	if c.wrote.Swap(false) {
		c.trips.n.Add(1)
	}
	return c.Conn.Read(b)
}

func (r *roundTrips) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, trips: r}, nil
}

// open returns a store over a fresh database as rowgate_app.
func open(t *testing.T, cfg postgres.Config) (*postgres.DB, *pgtest.DB) {
	t.Helper()
	tdb := pgtest.NewDB(t)
	if cfg.URL == "" {
		cfg.URL = tdb.URL(pgtest.App)
	}
	db, err := postgres.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.CheckRole(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, tdb
}

func mustCreate(t *testing.T, db *postgres.DB, c todo.Caller, title string) todo.Todo {
	t.Helper()
	td, err := db.Todos().Create(context.Background(), c, todo.NewTodo{Title: title})
	if err != nil {
		t.Fatalf("create %q as %s: %v", title, c.ID, err)
	}
	return td
}

func pgtestNewDB(tb testing.TB) string {
	tb.Helper()
	return pgtest.NewDB(tb).URL(pgtest.App)
}
