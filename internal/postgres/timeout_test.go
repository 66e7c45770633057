package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate/internal/pgtest"
	"github.com/rowgate/rowgate/internal/todo"
)

// TestStatementTimeoutPerTransaction shows the timeout set with the
// identity applies to the request's statements and ends with them.
func TestStatementTimeoutPerTransaction(t *testing.T) {
	t.Parallel()
	tdb := pgtest.NewDB(t)
	db, err := Open(context.Background(), Config{URL: tdb.URL(pgtest.App), StatementTimeout: 50 * time.Millisecond, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CheckRole(context.Background()); err != nil {
		t.Fatal(err)
	}
	caller := todo.Caller{ID: "timeout0000000000000000000000000"}
	err = db.run(context.Background(), caller, reads, func(b *pgx.Batch) { b.Queue("select pg_sleep(1)") })
	if !errors.Is(err, todo.ErrUnavailable) {
		t.Fatalf("slow statement: err = %v, want ErrUnavailable", err)
	}
	var setting string
	if err := db.primary.current().QueryRow(context.Background(), "show statement_timeout").Scan(&setting); err != nil {
		t.Fatal(err)
	}
	if setting != "0" {
		t.Fatalf("statement_timeout outlived its transaction: %s", setting)
	}
}
