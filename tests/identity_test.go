package tests

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate/internal/pgtest"
)

// currentIdentity reads what the next statement on conn would see.
func currentIdentity(t *testing.T, conn *pgx.Conn) (setting string, visible int) {
	t.Helper()
	ctx := context.Background()
	err := conn.QueryRow(ctx, `select coalesce(current_setting('app.user_id', true), '<unset>'), (select count(*) from todos)`).Scan(&setting, &visible)
	if err != nil {
		t.Fatal(err)
	}
	return setting, visible
}

// TestLocalSettingEndsWithTransaction shows set_config(..., true) does not
// survive its transaction, however the transaction ends.
func TestLocalSettingEndsWithTransaction(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	seed(t, db)
	ctx := context.Background()
	ends := map[string]func(conn *pgx.Conn) error{
		"Commit": func(conn *pgx.Conn) error {
			return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, "select set_config('app.user_id', $1, true)", alice)
				return err
			})
		},
		"Rollback": func(conn *pgx.Conn) error {
			tx, err := conn.Begin(ctx)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "select set_config('app.user_id', $1, true)", alice); err != nil {
				return err
			}
			return tx.Rollback(ctx)
		},
		"Error": func(conn *pgx.Conn) error {
			b := &pgx.Batch{}
			b.Queue("select set_config('app.user_id', $1, true)", alice)
			b.Queue("select 1/0")
			conn.SendBatch(ctx, b).Close() // the division fails the implicit transaction
			return nil
		},
		"ImplicitBatchTransaction": func(conn *pgx.Conn) error {
			b := &pgx.Batch{}
			b.Queue("select set_config('app.user_id', $1, true)", alice)
			var n int
			b.Queue("select count(*) from todos").QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
			if err := conn.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
			if n != 2 {
				return fmt.Errorf("inside the batch alice saw %d todos, want her 2", n)
			}
			return nil
		},
	}
	for name, end := range ends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			conn := db.Conn(t, pgtest.App)
			if err := end(conn); err != nil {
				t.Fatal(err)
			}
			setting, visible := currentIdentity(t, conn)
			if setting != "" || visible != 0 {
				t.Fatalf("after the transaction: app.user_id=%q and %d todos visible; want empty and 0", setting, visible)
			}
		})
	}
}

// TestPooledReuseDoesNotLeak shares one pooled connection among many
// callers, alternating identities and anonymous statements, and checks that
// every statement sees only its own caller's rows.
func TestPooledReuseDoesNotLeak(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	seed(t, db)
	ctx := context.Background()
	cfg, err := pgxpoolConfig(db.URL(pgtest.App), 1)
	if err != nil {
		t.Fatal(err)
	}
	pool := newPool(t, cfg)
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := 0; i < 400; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 3 {
			case 0, 1:
				who := []string{alice, bob}[i%2]
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, "select set_config('app.user_id', $1, true)", who); err != nil {
						return err
					}
					var owners []string
					rows, _ := tx.Query(ctx, "select user_id from todos")
					owners, err := pgx.CollectRows(rows, pgx.RowTo[string])
					if err != nil {
						return err
					}
					if len(owners) == 0 {
						return fmt.Errorf("%s saw no todos", who)
					}
					for _, o := range owners {
						if o != who {
							return fmt.Errorf("%s saw todos of %v", who, owners)
						}
					}
					return nil
				})
				if err != nil {
					errs <- err
				}
			default:
				var n int
				if err := pool.QueryRow(ctx, "select count(*) from todos").Scan(&n); err != nil {
					errs <- err
				} else if n != 0 {
					errs <- fmt.Errorf("a statement with no identity saw %d todos", n)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestProvisionAndDefaultOwner shows a new user creating their own row and
// a todo whose user_id the database fills in.
func TestProvisionAndDefaultOwner(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	conn := db.Conn(t, pgtest.App)
	var owner string
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "select set_config('app.user_id', $1, true)", carol); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "insert into users (id, email) values ($1, 'carol@example.com') on conflict (id) do nothing", carol); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "insert into todos (title) values ('first') returning user_id").Scan(&owner)
	})
	if err != nil {
		t.Fatal(err)
	}
	if owner != carol {
		t.Fatalf("user_id defaulted to %q, want %q", owner, carol)
	}
}
