//go:build e2e

package e2e

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// betterAuthRole is Better Auth's own role in the tests that need
// organizations (startOrgBetterAuth), the "tighter" setup of
// docs/better-auth.md: it owns its schema and tables, and the migrating
// role reads the organization tables only through the grants that page
// lists.
const betterAuthRole = "better_auth"

// TestOrganizations runs the real Better Auth organization plugin against
// the real rowgate, doing what docs/better-auth.md tells an operator to do:
// Better Auth in schema better_auth (rowgate's default) as a role of its
// own, then the grants to the migrating role, then `rowgate migrate` again
// so that it installs the app_memberships() that reads them
// (startOrgBetterAuth). Then:
//
//  1. the owner creates an organization;
//  2. invites a member, who accepts;
//  3. the member sees and edits the organization's todos through rowgate;
//  4. the owner removes them;
//  5. their next request, with the same token, sees nothing.
func TestOrganizations(t *testing.T) {
	t.Parallel()
	ba := startOrgBetterAuth(t)
	rg := startRowgate(t, wiredTo(ba), true)
	owner := ba.signUp(t, "owner.org@example.com", "Olga")
	member := ba.signUp(t, "member.org@example.com", "Mia")

	org := ba.orgCall(t, owner, "/organization/create", map[string]any{"name": "Acme", "slug": "acme-e2e"})["id"].(string)
	inv := ba.orgCall(t, owner, "/organization/invite-member", map[string]any{"email": member.email, "role": "member", "organizationId": org})["id"].(string)
	ba.orgCall(t, member, "/organization/accept-invitation", map[string]any{"invitationId": inv})

	if got := rg.organizations(t, member); len(got) != 1 || got[0].ID != org || got[0].Name != "Acme" || strings.Join(got[0].Roles, ",") != "member" {
		t.Fatalf("the member's GET /v1/organizations = %+v, want Acme as member", got)
	}
	shared := rg.createTodoIn(t, owner, org, "acme: ship it")
	mine := rg.createTodoIn(t, member, org, "acme: review it")
	if ids := rg.orgTodoIDs(t, member, org); len(ids) != 2 {
		t.Fatalf("the member lists %d of the organization's todos, want 2", len(ids))
	}
	if res := rg.call(t, member.token, http.MethodPatch, "/v1/todos/"+shared, map[string]any{"completed": true}); res.status != http.StatusOK {
		t.Fatalf("the member edits the owner's todo: %d %s", res.status, res.body)
	}

	ba.orgCall(t, owner, "/organization/remove-member", map[string]any{"memberIdOrEmail": member.email, "organizationId": org})
	if ids := rg.orgTodoIDs(t, member, org); len(ids) != 0 {
		t.Errorf("after removal, with the same token, the member lists %v", ids)
	}
	for _, id := range []string{shared, mine} {
		if res := rg.call(t, member.token, http.MethodGet, "/v1/todos/"+id, nil); res.status != http.StatusNotFound {
			t.Errorf("after removal, GET %s: %d, want 404", id, res.status)
		}
	}
	if got := rg.organizations(t, member); len(got) != 0 {
		t.Errorf("after removal the member's organizations = %+v", got)
	}
	if ids := rg.orgTodoIDs(t, owner, org); len(ids) != 2 {
		t.Errorf("the owner lists %d of the organization's todos, want 2", len(ids))
	}
	appCannotRead(t, "better_auth.member")
}

// orgSetup records whether startOrgBetterAuth has set up the schema
// better_auth. app_memberships() reads the organization tables of one
// Better Auth schema per database (`rowgate migrate --better-auth-schema`,
// default better_auth), so every test that needs organizations runs its
// Better Auth there; each has its own base URL, so its own JWT issuer.
var orgSetup struct {
	sync.Mutex
	done bool
}

// startOrgBetterAuth starts Better Auth in schema better_auth as the role
// betterAuthRole. The first call sets that up as docs/better-auth.md tells
// an operator to: it creates the role, lets Better Auth create its tables,
// grants the migrating role what app_memberships() reads, and runs `rowgate
// migrate` again, which must then install the app_memberships() that reads
// them. extraEnv is as for startBetterAuth.
func startOrgBetterAuth(t *testing.T, extraEnv ...string) *betterAuth {
	t.Helper()
	orgSetup.Lock()
	defer orgSetup.Unlock()
	baURL := env.cluster.URL(betterAuthRole, database)
	if !orgSetup.done {
		ownerExec(t, "create role "+betterAuthRole+" login", "grant create on database "+database+" to "+betterAuthRole)
	}
	ba := startBetterAuth(t, "better_auth", append([]string{"DATABASE_URL=" + baURL}, extraEnv...)...)
	if !orgSetup.done {
		execAs(t, baURL,
			"grant usage on schema better_auth to "+ownerRole,
			"grant select on better_auth.organization, better_auth.member to "+ownerRole)
		if out := rowgateMigrate(t); !strings.Contains(out, "rls/ policies installed") {
			t.Fatalf("rowgate migrate after Better Auth created its organization tables did not install rls/:\n%s", out)
		}
		orgSetup.done = true
	}
	return ba
}

// ownerExec runs statements as the database owner, as an operator would
// with the owner's credentials.
func ownerExec(t *testing.T, stmts ...string) { execAs(t, env.ownerURL, stmts...) }

func execAs(t *testing.T, url string, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// rowgateMigrate runs the real `rowgate migrate` as the owner.
func rowgateMigrate(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.rowgateBin, "migrate", "--database-url", env.ownerURL)
	cmd.Env = childEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rowgate migrate: %v\n%s", err, out)
	}
	return string(out)
}

// appCannotRead checks that rowgate_app has no privilege on a Better Auth
// table: only app_memberships(), as its owner, reads it.
func appCannotRead(t *testing.T, table string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	app, err := pgx.Connect(ctx, env.appURL)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	_, err = app.Exec(ctx, "select count(*) from "+table)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != pgerrcode.InsufficientPrivilege {
		t.Errorf("rowgate_app reading %s: %v, want SQLSTATE 42501", table, err)
	}
}

// orgCall calls one of the organization plugin's endpoints as u (with u's
// session cookie) and returns its JSON object.
func (ba *betterAuth) orgCall(t *testing.T, u user, path string, body map[string]any) map[string]any {
	t.Helper()
	h := ba.headers()
	h.Set("Cookie", (&http.Cookie{Name: u.cookie.Name, Value: u.cookie.Value}).String())
	res := send(t, http.MethodPost, ba.base+"/api/auth"+path, body, h)
	if res.status != http.StatusOK {
		t.Fatalf("%s as %s: %d %s", path, u.email, res.status, res.body)
	}
	var out map[string]any
	res.decode(t, &out)
	if _, ok := out["id"].(string); !ok && path != "/organization/accept-invitation" && path != "/organization/remove-member" {
		t.Fatalf("%s as %s: no id in %s", path, u.email, res.body)
	}
	return out
}

// orgJSON is one item of GET /v1/organizations.
type orgJSON struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

func (rg *rowgate) organizations(t *testing.T, u user) []orgJSON {
	t.Helper()
	res := rg.call(t, u.token, http.MethodGet, "/v1/organizations", nil)
	if res.status != http.StatusOK {
		t.Fatalf("%s: GET /v1/organizations: %d %s", u.email, res.status, res.body)
	}
	var out struct{ Items []orgJSON }
	res.decode(t, &out)
	return out.Items
}

func (rg *rowgate) createTodoIn(t *testing.T, u user, org, title string) string {
	t.Helper()
	res := rg.call(t, u.token, http.MethodPost, "/v1/todos", map[string]any{"title": title, "organization_id": org})
	var td struct {
		ID, UserID, OrganizationID string
	}
	res.decode(t, &td)
	if res.status != http.StatusCreated {
		t.Fatalf("%s: POST /v1/todos in %s: %d %s", u.email, org, res.status, res.body)
	}
	return td.ID
}

func (rg *rowgate) orgTodoIDs(t *testing.T, u user, org string) []string {
	t.Helper()
	res := rg.call(t, u.token, http.MethodGet, "/v1/todos?organization_id="+org, nil)
	if res.status != http.StatusOK {
		t.Fatalf("%s: GET /v1/todos?organization_id=%s: %d %s", u.email, org, res.status, res.body)
	}
	var page struct{ Items []todoJSON }
	res.decode(t, &page)
	var ids []string
	for _, td := range page.Items {
		ids = append(ids, td.ID)
	}
	return ids
}
