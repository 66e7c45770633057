//go:build e2e

package e2e

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestAlgorithms runs the core flow once per signing algorithm, each against
// a Better Auth whose schema is new, so its one key has that algorithm.
func TestAlgorithms(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"EdDSA", "RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			schema := "ba_" + strings.ToLower(alg)
			ba := startBetterAuth(t, schema, "JWT_ALG="+alg)
			rg := startRowgate(t, wiredTo(ba), true)
			coreFlow(t, ba, rg, strings.ToLower(alg), alg)
			checkSchemaIsolation(t, schema)
		})
	}
}

// coreFlow: two users sign up through Better Auth; each creates and lists
// todos and sees only their own; the other's todo answers 404 to GET, PATCH
// and DELETE and stays unchanged; a third user is provisioned on first use.
func coreFlow(t *testing.T, ba *betterAuth, rg *rowgate, label, wantAlg string) {
	alice := ba.signUp(t, "alice."+label+"@example.com", "Alice")
	bob := ba.signUp(t, "bob."+label+"@example.com", "Bob")
	checkToken(t, ba, alice, wantAlg)
	checkToken(t, ba, bob, wantAlg)

	aliceTodos := []todoJSON{rg.createTodo(t, alice, "alice: buy milk"), rg.createTodo(t, alice, "alice: call mum")}
	bobTodos := []todoJSON{rg.createTodo(t, bob, "bob: fix bike")}
	expectOnly(t, rg, alice, aliceTodos)
	expectOnly(t, rg, bob, bobTodos)

	crossUserNotFound(t, rg, bob, alice, aliceTodos[0])
	crossUserNotFound(t, rg, alice, bob, bobTodos[0])
	expectOnly(t, rg, alice, aliceTodos)
	expectOnly(t, rg, bob, bobTodos)

	thirdUserProvisioned(t, ba, rg, label)
}

// checkToken checks that Better Auth signed u's token as configured: the
// expected alg, a kid its JWKS lists with that alg, sub = the user id, and
// iss = aud = the base URL.
func checkToken(t *testing.T, ba *betterAuth, u user, wantAlg string) {
	t.Helper()
	jwt := decodeJWT(t, u.token)
	if jwt.Header.Alg != wantAlg || jwt.Header.KID == "" {
		t.Fatalf("%s: JWT header %+v, want alg %s and a kid", u.email, jwt.Header, wantAlg)
	}
	c := jwt.Claims
	if c.Sub != u.id || c.Iss != ba.base || c.Aud != ba.base || c.Email != u.email {
		t.Fatalf("%s: JWT claims %+v, want sub %s, iss = aud = %s", u.email, c, u.id, ba.base)
	}
	keys := ba.jwks(t)
	if len(keys) != 1 || keys[0].KID != jwt.Header.KID || keys[0].Alg != wantAlg {
		t.Fatalf("JWKS %+v, want exactly the key %s with alg %s", keys, jwt.Header.KID, wantAlg)
	}
}

// expectOnly checks that u's list holds exactly want, all owned by u.
func expectOnly(t *testing.T, rg *rowgate, u user, want []todoJSON) {
	t.Helper()
	var got, wantIDs []string
	for _, td := range rg.listTodos(t, u) {
		if td.UserID != u.id {
			t.Errorf("%s's list holds todo %s of user %s", u.email, td.ID, td.UserID)
		}
		got = append(got, td.ID)
	}
	for _, td := range want {
		wantIDs = append(wantIDs, td.ID)
	}
	slices.Sort(got)
	slices.Sort(wantIDs)
	if !slices.Equal(got, wantIDs) {
		t.Errorf("%s's list = %v, want %v", u.email, got, wantIDs)
	}
}

// crossUserNotFound: other's todo answers 404 to u for every method, and
// is unchanged afterwards.
func crossUserNotFound(t *testing.T, rg *rowgate, u, owner user, td todoJSON) {
	t.Helper()
	path := "/v1/todos/" + td.ID
	for _, tc := range []struct {
		method string
		body   any
	}{
		{http.MethodGet, nil},
		{http.MethodPatch, map[string]any{"title": "taken over by " + u.name}},
		{http.MethodDelete, nil},
	} {
		res := rg.call(t, u.token, tc.method, path, tc.body)
		if res.status != http.StatusNotFound || res.problemCode() != "not_found" {
			t.Errorf("%s %s %s's todo: %d %s, want 404 not_found", u.email, tc.method, owner.email, res.status, res.body)
		}
	}
	res := rg.call(t, owner.token, http.MethodGet, path, nil)
	var after todoJSON
	res.decode(t, &after)
	if res.status != http.StatusOK || after.Title != td.Title {
		t.Errorf("%s's todo after %s's attempts: %d %s, want it unchanged", owner.email, u.email, res.status, res.body)
	}
}

// thirdUserProvisioned: a user rowgate has never seen gets a users row on
// the first request, with email and name taken from Better Auth's claims.
func thirdUserProvisioned(t *testing.T, ba *betterAuth, rg *rowgate, label string) {
	t.Helper()
	carol := ba.signUp(t, "carol."+label+"@example.com", "Carol")
	res := rg.me(t, carol.token)
	if res.status != http.StatusOK {
		t.Fatalf("carol's first request, GET /v1/me: %d %s", res.status, res.body)
	}
	var me meJSON
	res.decode(t, &me)
	if me.ID != carol.id || me.Email == nil || *me.Email != carol.email || me.Name == nil || *me.Name != "Carol" {
		t.Errorf("GET /v1/me = %v, want id %s, email %s, name Carol", me, carol.id, carol.email)
	}
	if todos := rg.listTodos(t, carol); len(todos) != 0 {
		t.Errorf("carol's list = %+v, want empty", todos)
	}
}

// checkSchemaIsolation checks what docs/better-auth.md promises: Better
// Auth's tables are in their own schema, not in public, and rowgate_app
// cannot read them.
func checkSchemaIsolation(t *testing.T, schema string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	owner, err := pgx.Connect(ctx, env.ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(context.Background())
	var inSchema, inPublic int
	err = owner.QueryRow(ctx, `select count(*) filter (where table_schema = $1), count(*) filter (where table_schema = 'public')
		from information_schema.tables where table_name in ('user', 'session', 'account', 'verification', 'jwks')`, schema).
		Scan(&inSchema, &inPublic)
	if err != nil {
		t.Fatal(err)
	}
	if inSchema != 5 || inPublic != 0 {
		t.Errorf("Better Auth tables: %d in %s (want 5), %d in public (want 0)", inSchema, schema, inPublic)
	}
	app, err := pgx.Connect(ctx, env.appURL)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	_, err = app.Exec(ctx, "select count(*) from "+pgx.Identifier{schema, "jwks"}.Sanitize())
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != pgerrcode.InsufficientPrivilege {
		t.Errorf("rowgate_app reading %s.jwks: %v, want SQLSTATE 42501", schema, err)
	}
}
