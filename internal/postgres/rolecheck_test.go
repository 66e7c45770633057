package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rowgate/rowgate/internal/pgtest"
	"github.com/rowgate/rowgate/internal/postgres"
)

var roleSeq atomic.Int64

func TestCheckRole(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(t *testing.T, db *pgtest.DB) string // returns the login
		want  string                                   // "" = accepted
	}{
		{"AppRole", func(t *testing.T, db *pgtest.DB) string { return pgtest.App }, ""},
		{"ErrSuperuser", func(t *testing.T, db *pgtest.DB) string { return db.Superuser() }, "is a superuser"},
		{"ErrTableOwner", func(t *testing.T, db *pgtest.DB) string { return pgtest.Owner }, "owns "},
		{"ErrBypassRLS", func(t *testing.T, db *pgtest.DB) string {
			role := newRole(t, db)
			db.Exec(t, "alter role "+role+" bypassrls")
			return role
		}, "has BYPASSRLS"},
		{"ErrMemberOfOwner", func(t *testing.T, db *pgtest.DB) string {
			role := newRole(t, db)
			db.Exec(t, "grant rowgate_owner to "+role)
			return role
		}, "role rowgate_owner owns"},
		{"ErrMemberOfBypasser", func(t *testing.T, db *pgtest.DB) string {
			role, group := newRole(t, db), newRole(t, db)
			db.Exec(t, "alter role "+group+" bypassrls")
			db.Exec(t, "grant "+group+" to "+role)
			return role
		}, "has BYPASSRLS"},
		{"ErrRLSDisabled", func(t *testing.T, db *pgtest.DB) string {
			db.Exec(t, "alter table todos disable row level security")
			return pgtest.App
		}, "disabled on todos"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tdb := pgtest.NewDB(t)
			login := tc.setup(t, tdb)
			db, err := postgres.Open(context.Background(), postgres.Config{URL: tdb.URL(login)})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = db.CheckRole(context.Background())
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want a refusal containing %q", err, tc.want)
			}
		})
	}
}

func newRole(t *testing.T, db *pgtest.DB) string {
	role := fmt.Sprintf("rolecheck_%d_%s", roleSeq.Add(1), db.Name)
	db.CreateRole(t, role)
	db.Exec(t, "grant connect on database "+db.Name+" to "+role)
	return role
}
