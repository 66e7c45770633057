package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/httpapi"
	"github.com/rowgate/rowgate/internal/pgtest"
	"github.com/rowgate/rowgate/internal/postgres"
	"github.com/rowgate/rowgate/internal/todo"
)

// The load PastedURLWorks puts through PgBouncer: more users than rowgate
// has connections, and more connections than PgBouncer has servers.
const (
	pooledServers    = 4
	pooledMaxConns   = 32
	pooledUsers      = 50
	pooledTodos      = 5 // created per user; the last is deleted again
	pooledIssuer     = "https://auth.pgbouncer.test"
	pooledAudience   = "https://api.pgbouncer.test"
	pooledTokenTTL   = time.Hour
	pooledReqTimeout = 20 * time.Second
)

// pastedURLWorks serves the real API on the URL a user pastes (no exec mode
// parameter) and drives it with many users in parallel: every answer must
// be the expected one, and no user may ever see, change or delete another
// user's row.
func pastedURLWorks(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	b := pgtest.StartBouncer(t, db, pgtest.BouncerOptions{PoolSize: pooledServers})
	pasted := fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d", pgtest.App, db.Name, b.Dir, pgtest.BouncerPort)
	app := openRowgate(t, pasted, pooledMaxConns)
	wantExecMode(t, app, pgx.QueryExecModeCacheDescribe)
	if err := app.CheckRole(ctx); err != nil {
		t.Fatalf("CheckRole through pgbouncer: %v", err)
	}
	users := pooledAPIUsers(t, app)

	// Every first request queues in PgBouncer behind pinned servers, so
	// rowgate's pool opens all its connections: from the start, 32 client
	// connections share 4 server connections.
	release := b.HoldServers(t, pooledServers)
	wait := eachUser(users, (*apiUser).createTodos)
	pgbWaitFor(t, fmt.Sprintf("rowgate's %d connections all waiting for a server", pooledMaxConns),
		func() bool { return app.Stat().AcquiredConns() == pooledMaxConns })
	release()
	reportUserErrors(t, "create", wait())

	// Each user then also tries the second todo of the next user.
	for i, u := range users {
		u.victimTodo = users[(i+1)%len(users)].todos[1].ID
	}
	reportUserErrors(t, "exercise", eachUser(users, (*apiUser).exercise)())
	reportUserErrors(t, "final check", eachUser(users, (*apiUser).checkFinal)())

	if n := b.ServerConns(t); n > pooledServers {
		t.Errorf("the database saw %d connections from pgbouncer, want at most %d", n, pooledServers)
	}
	t.Logf("%d users × %d requests through %d client and %d server connections",
		len(users), users[0].requests, app.Stat().TotalConns(), b.ServerConns(t))
}

// pooledAPIUsers serves the API on app over loopback, wired like serve,
// with real token verification, and returns its users with their tokens.
func pooledAPIUsers(t *testing.T, app *postgres.DB) []*apiUser {
	t.Helper()
	key, err := auth.LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(context.Background(), auth.Config{
		JWKSFile: key.JWKSPath(), Issuer: pooledIssuer, Audience: pooledAudience,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(verifier.Close)
	srv := httptest.NewServer(httpapi.New(httpapi.Options{
		Todos: app.Todos(), Users: app.Users(), Auth: auth.Middleware(verifier), Ready: app.Ready,
	}))
	t.Cleanup(srv.Close)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = pooledUsers
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport, Timeout: pooledReqTimeout}

	users := make([]*apiUser, pooledUsers)
	for i := range users {
		id := fmt.Sprintf("pooled-user-%02d", i)
		token, err := key.Mint(todo.Caller{ID: id, Email: id + "@example.com"}, pooledIssuer, pooledAudience, pooledTokenTTL)
		if err != nil {
			t.Fatal(err)
		}
		users[i] = &apiUser{id: id, token: token, base: srv.URL, client: client}
	}
	return users
}

// eachUser runs fn for every user at once; wait returns their errors.
func eachUser(users []*apiUser, fn func(*apiUser) error) (wait func() []error) {
	errs := make([]error, len(users))
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() { errs[i] = fn(u) })
	}
	return func() []error { wg.Wait(); return errs }
}

// reportUserErrors fails t, after listing the first few errors, if a user
// met any.
func reportUserErrors(t *testing.T, phase string, errs []error) {
	t.Helper()
	failed := 0
	for _, err := range errs {
		if err != nil {
			if failed++; failed <= 10 {
				t.Errorf("%s: %v", phase, err)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%s: %d of %d users met errors", phase, failed, len(errs))
	}
}

// apiUser is one caller of the API and what it has created.
type apiUser struct {
	id, token string
	base      string
	client    *http.Client
	todos     []pooledTodo // in creation order
	// victimTodo is another user's todo, which u must not reach.
	victimTodo string
	requests   int
}

// pooledTodo is a todo as the API returns it.
type pooledTodo struct {
	ID        string `json:"id"`
	UserID    string `json:"user_id"`
	Title     string `json:"title"`
	Completed bool   `json:"completed"`
}

type pooledPage struct {
	Items []pooledTodo `json:"items"`
}

// call sends one request as u and decodes the answer into out, failing
// unless the status is want.
func (u *apiUser) call(method, path, body string, want int, out any) error {
	u.requests++
	ctx, cancel := context.WithTimeout(context.Background(), pooledReqTimeout)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+u.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := u.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s as %s: %w", method, path, u.id, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("%s %s as %s: %w", method, path, u.id, err)
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s as %s: status %d, want %d: %s", method, path, u.id, res.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s as %s: %w: %s", method, path, u.id, err, data)
		}
	}
	return nil
}

func (u *apiUser) title(k int) string { return fmt.Sprintf("todo %d of %s", k, u.id) }

// createTodos: GET /v1/me (provisions the user), then pooledTodos creates.
func (u *apiUser) createTodos() error {
	var me struct {
		ID string `json:"id"`
	}
	if err := u.call(http.MethodGet, "/v1/me", "", http.StatusOK, &me); err != nil {
		return err
	}
	if me.ID != u.id {
		return fmt.Errorf("GET /v1/me as %s answered user %s", u.id, me.ID)
	}
	for k := range pooledTodos {
		var td pooledTodo
		body := fmt.Sprintf(`{"title": %q}`, u.title(k))
		if err := u.call(http.MethodPost, "/v1/todos", body, http.StatusCreated, &td); err != nil {
			return err
		}
		if td.UserID != u.id || td.Title != u.title(k) {
			return fmt.Errorf("POST /v1/todos as %s answered %+v", u.id, td)
		}
		u.todos = append(u.todos, td)
	}
	return nil
}

// exercise mixes reads, writes and deletes of u's own todos with attempts
// on another user's, which must all answer 404.
func (u *apiUser) exercise() error {
	if err := u.checkList("", u.todos); err != nil {
		return err
	}
	for _, own := range u.todos {
		if err := u.checkGet(own); err != nil {
			return err
		}
	}
	var done pooledTodo
	if err := u.call(http.MethodPatch, "/v1/todos/"+u.todos[0].ID, `{"completed": true}`, http.StatusOK, &done); err != nil {
		return err
	}
	if done.ID != u.todos[0].ID || done.UserID != u.id || !done.Completed {
		return fmt.Errorf("PATCH as %s answered %+v", u.id, done)
	}
	u.todos[0].Completed = true
	if err := u.call(http.MethodGet, "/v1/me", "", http.StatusOK, nil); err != nil {
		return err
	}
	theirs := "/v1/todos/" + u.victimTodo
	for _, try := range []struct{ method, body string }{
		{http.MethodGet, ""}, {http.MethodPatch, `{"title": "taken by ` + u.id + `"}`}, {http.MethodDelete, ""},
	} {
		if err := u.call(try.method, theirs, try.body, http.StatusNotFound, nil); err != nil {
			return fmt.Errorf("another user's todo: %w", err)
		}
	}
	last := u.todos[len(u.todos)-1]
	if err := u.call(http.MethodDelete, "/v1/todos/"+last.ID, "", http.StatusNoContent, nil); err != nil {
		return err
	}
	u.todos = u.todos[:len(u.todos)-1]
	if err := u.call(http.MethodGet, "/v1/todos/"+last.ID, "", http.StatusNotFound, nil); err != nil {
		return err
	}
	return u.checkList("?completed=true", u.todos[:1])
}

// checkFinal runs once every user is done: u's todos are exactly what u
// left, untouched by the others' attempts.
func (u *apiUser) checkFinal() error { return u.checkList("", u.todos) }

func (u *apiUser) checkGet(want pooledTodo) error {
	var got pooledTodo
	if err := u.call(http.MethodGet, "/v1/todos/"+want.ID, "", http.StatusOK, &got); err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("GET /v1/todos/%s as %s answered %+v, want %+v", want.ID, u.id, got, want)
	}
	return nil
}

// checkList lists u's todos: every item must be u's (no row crossing
// users) and the set must be exactly want.
func (u *apiUser) checkList(query string, want []pooledTodo) error {
	var page pooledPage
	if err := u.call(http.MethodGet, "/v1/todos"+query, "", http.StatusOK, &page); err != nil {
		return err
	}
	byID := map[string]pooledTodo{}
	for _, w := range want {
		byID[w.ID] = w
	}
	for _, got := range page.Items {
		if got.UserID != u.id {
			return fmt.Errorf("GET /v1/todos%s as %s answered %s's todo %s", query, u.id, got.UserID, got.ID)
		}
		if w, ok := byID[got.ID]; !ok || got != w {
			return fmt.Errorf("GET /v1/todos%s as %s answered %+v, which it did not create that way", query, u.id, got)
		}
	}
	if len(page.Items) != len(want) {
		return fmt.Errorf("GET /v1/todos%s as %s answered %d todos, want %d", query, u.id, len(page.Items), len(want))
	}
	return nil
}
