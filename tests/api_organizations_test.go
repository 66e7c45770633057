package tests

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// Organization fixtures, next to alice's and bob's personal todos (seedAPI).
// Better Auth says: olga owns acme; adam holds admin (and member) there; mia
// is a plain member; exa was a member until she was removed; nina is in no
// acme role but owns beta.
const (
	olga = "olga0000000000000000000000000ooo"
	adam = "adam0000000000000000000000000aaa"
	mia  = "mia00000000000000000000000000mmm"
	exa  = "exa00000000000000000000000000xxx"
	nina = "nina0000000000000000000000000nnn"

	acme = "acmeKkHq7Ny2mSx6dQp1Zr3Tf9Wb5Lc8"
	beta = "betaVh4JKkHq7Ny2mSx6dQp1Zr3Tf9Wb"

	acmeOlga    = "00000000-0000-4000-8000-0000000a0001" // olga's, in acme
	acmeMia     = "00000000-0000-4000-8000-0000000a0002" // mia's, in acme
	acmeExa     = "00000000-0000-4000-8000-0000000a0003" // exa's, in acme, from before her removal
	betaNina    = "00000000-0000-4000-8000-0000000b0001" // nina's, in beta
	miaPersonal = "00000000-0000-4000-8000-0000000c0001" // mia's own
)

// seedOrganizations writes the fixtures above as Better Auth and rowgate
// would have them, as the superuser.
func seedOrganizations(t *testing.T, s *apiServer) {
	t.Helper()
	s.exec(t, `insert into better_auth.organization (id, name, slug, "createdAt") values ($1, 'Acme', 'acme', now()), ($2, 'Beta', 'beta', now())`, acme, beta)
	s.exec(t, `insert into better_auth.member (id, "organizationId", "userId", role, "createdAt") values
		('m1', $1, $2, 'owner', now()), ('m2', $1, $3, 'member,admin', now()), ('m3', $1, $4, 'member', now()),
		('m4', $5, $6, 'owner', now())`, acme, olga, adam, mia, beta, nina)
	s.exec(t, `insert into users (id) values ($1), ($2), ($3), ($4), ($5)`, olga, adam, mia, exa, nina)
	s.exec(t, `insert into todos (id, user_id, organization_id, title, created_at, updated_at) values
		($1, $2, $3, 'acme: olga''s', now() - interval '1 minute', now() - interval '1 minute'),
		($4, $5, $3, 'acme: mia''s', now() - interval '2 minutes', now() - interval '2 minutes'),
		($6, $7, $3, 'acme: exa''s', now() - interval '3 minutes', now() - interval '3 minutes'),
		($8, $9, $10, 'beta: nina''s', now() - interval '1 minute', now() - interval '1 minute'),
		($11, $5, null, 'mia''s own', now() - interval '1 minute', now() - interval '1 minute')`,
		acmeOlga, olga, acme, acmeMia, mia, acmeExa, exa, betaNina, nina, beta, miaPersonal)
}

const (
	codeNotAMember  = "not_a_member"
	codeNotAllowed  = "not_allowed"
	codeBadCursor   = "invalid_cursor"
	codeReplayedKey = "idempotency_key_reused"
)

func TestAPIOrganizationScenarios(t *testing.T) {
	t.Parallel()
	for _, g := range []apiScenarioGroup{
		{name: "ListOrganizations", cases: listOrganizationsCases()},
		{name: "ListOrganizationTodos", cases: listOrganizationTodosCases()},
		{name: "GetOrganizationTodo", cases: getOrganizationTodoCases()},
		{name: "CreateOrganizationTodo", cases: createOrganizationTodoCases()},
		{name: "PatchOrganizationTodo", cases: patchOrganizationTodoCases()},
		{name: "DeleteOrganizationTodo", cases: deleteOrganizationTodoCases()},
	} {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			s := newAPIServer(t)
			seedAPI(t, s)
			seedOrganizations(t, s)
			for _, sc := range g.cases {
				t.Run(sc.name, func(t *testing.T) { runAPIScenario(t, s, sc) })
			}
		})
	}
}

func listOrganizationsCases() []apiScenario {
	orgs := func(name, as string, want ...map[string]any) apiScenario {
		items := make([]any, len(want))
		for i, w := range want {
			items[i] = w
		}
		return apiScenario{name: name, method: "GET", path: "/v1/organizations", as: as, wantStatus: 200,
			wantBody: map[string]any{"items": items}}
	}
	org := func(id, name string, roles ...any) map[string]any {
		return map[string]any{"id": id, "name": name, "roles": roles}
	}
	return []apiScenario{
		orgs("SuccessOwner", olga, org(acme, "Acme", "owner")),
		orgs("SuccessSeveralRoles", adam, org(acme, "Acme", "member", "admin")),
		orgs("SuccessMember", mia, org(acme, "Acme", "member")),
		orgs("SuccessOtherOrganization", nina, org(beta, "Beta", "owner")),
		orgs("SuccessRemovedMember", exa),
		orgs("SuccessNoOrganizations", alice),
		{name: "ErrMissingToken", method: "GET", path: "/v1/organizations", wantStatus: 401, wantCode: codeMissingToken},
	}
}

// todoIDs is a check that the answer's todos are exactly ids, in order.
func todoIDs(ids ...string) func(t *testing.T, s *apiServer, resp apiResponse) {
	return func(t *testing.T, s *apiServer, resp apiResponse) {
		t.Helper()
		var got []string
		for _, td := range apiDecode[apiPage](t, resp.Body).Items {
			got = append(got, td.ID)
		}
		if !reflect.DeepEqual(got, ids) && !(len(got) == 0 && len(ids) == 0) {
			t.Errorf("todos %v, want %v", got, ids)
		}
	}
}

func listOrganizationTodosCases() []apiScenario {
	list := func(name, as, query string, ids ...string) apiScenario {
		return apiScenario{name: name, method: "GET", path: "/v1/todos" + query, as: as, wantStatus: 200, check: todoIDs(ids...)}
	}
	bad := func(name, query, code string) apiScenario {
		return apiScenario{name: name, method: "GET", path: "/v1/todos" + query, as: mia, wantStatus: 400, wantCode: code}
	}
	cases := []apiScenario{
		list("SuccessMember", mia, "?organization_id="+acme, acmeOlga, acmeMia, acmeExa),
		list("SuccessOwner", olga, "?organization_id="+acme, acmeOlga, acmeMia, acmeExa),
		list("SuccessAdminCompleted", adam, "?organization_id="+acme+"&completed=false", acmeOlga, acmeMia, acmeExa),
		list("SuccessPersonalListLeavesOrganizationsOut", mia, "", miaPersonal),
		list("SuccessPersonalListOfOwner", olga, ""),
		list("EmptyNonMember", nina, "?organization_id="+acme),
		list("EmptyRemovedMember", exa, "?organization_id="+acme),
		list("EmptyNoSuchOrganization", mia, "?organization_id=nope"),
		list("EmptyOrganizationIDIsCaseSensitive", mia, "?organization_id="+strings.ToUpper(acme)),
		{name: "SuccessPaginated", method: "GET", path: "/v1/todos?limit=2&organization_id=" + acme, as: mia, wantStatus: 200,
			check: func(t *testing.T, s *apiServer, resp apiResponse) {
				page := apiDecode[apiPage](t, resp.Body)
				if len(page.Items) != 2 || page.NextCursor == nil {
					t.Fatalf("first page %+v", page)
				}
				cur := url.QueryEscape(*page.NextCursor)
				next := s.do(t, apiRequest{method: "GET", path: "/v1/todos?limit=2&organization_id=" + acme + "&cursor=" + cur, as: mia})
				todoIDs(acmeExa)(t, s, next)
				for _, q := range []string{"?limit=2&cursor=" + cur, "?limit=2&organization_id=" + beta + "&cursor=" + cur,
					"?limit=2&organization_id=" + acme + "&completed=false&cursor=" + cur} {
					if r := s.do(t, apiRequest{method: "GET", path: "/v1/todos" + q, as: mia}); r.Status != 400 || r.problem(t).Code != codeBadCursor {
						t.Errorf("%s: a cursor of acme's list used for another list answers %d %s", q, r.Status, r.Body)
					}
				}
			}},
		bad("ErrOrganizationIDEmpty", "?organization_id=", codeBadParam),
		bad("ErrOrganizationIDTooLong", "?organization_id="+strings.Repeat("o", 256), codeBadParam),
		bad("ErrOrganizationIDControl", "?organization_id=a%00b", codeBadParam),
		bad("ErrOrganizationIDRepeated", "?organization_id="+acme+"&organization_id="+beta, codeBadParam),
	}
	return cases
}

func getOrganizationTodoCases() []apiScenario {
	get := func(name, id, as string, status int) apiScenario {
		sc := apiScenario{name: name, method: "GET", path: "/v1/todos/" + id, as: as, wantStatus: status}
		if status == 404 {
			sc.wantCode = codeNotFound
		}
		return sc
	}
	return []apiScenario{
		{name: "SuccessMemberReadsAnothersTodo", method: "GET", path: "/v1/todos/" + acmeOlga, as: mia, wantStatus: 200,
			wantBody:   map[string]any{"id": acmeOlga, "user_id": olga, "organization_id": acme, "title": "acme: olga's"},
			wantHeader: map[string]string{"ETag": anyValue}},
		{name: "SuccessPersonalTodoHasNoOrganization", method: "GET", path: "/v1/todos/" + miaPersonal, as: mia, wantStatus: 200,
			wantBody: map[string]any{"organization_id": nil}},
		get("SuccessAdmin", acmeExa, adam, 200),
		get("NotFoundNonMember", acmeOlga, nina, 404),
		get("NotFoundRemovedMembersOwnTodo", acmeExa, exa, 404),
		get("NotFoundOrgMatesPersonalTodo", miaPersonal, olga, 404),
		get("NotFoundOtherOrganization", betaNina, olga, 404),
		get("NotFoundPersonalUser", acmeOlga, alice, 404),
	}
}

func createOrganizationTodoCases() []apiScenario {
	post := func(name, as, body string, status int, code string) apiScenario {
		return apiScenario{name: name, method: "POST", path: "/v1/todos", as: as, body: body, wantStatus: status, wantCode: code}
	}
	keyed := func(sc apiScenario, key string) apiScenario {
		sc.header = map[string]string{"Idempotency-Key": key}
		return sc
	}
	inAcme := `{"title":"shared","organization_id":"` + acme + `"}`
	// notAMember's answer must not tell an organization that exists from
	// one that does not: compare the two problem bodies.
	sameAsMissing := func(t *testing.T, s *apiServer, resp apiResponse) {
		missing := s.do(t, apiRequest{method: "POST", path: "/v1/todos", as: nina, body: `{"title":"x","organization_id":"nope"}`})
		if a, b := problemWithoutRequestID(t, resp.Body), problemWithoutRequestID(t, missing.Body); !reflect.DeepEqual(a, b) || missing.Status != resp.Status {
			t.Errorf("a real organization answers %d %v, a missing one %d %v", resp.Status, a, missing.Status, b)
		}
	}
	return []apiScenario{
		{name: "SuccessMember", method: "POST", path: "/v1/todos", as: mia, body: inAcme, wantStatus: 201,
			wantBody: map[string]any{"title": "shared", "organization_id": acme, "user_id": mia},
			check: func(t *testing.T, s *apiServer, resp apiResponse) {
				td := apiDecode[apiTodo](t, resp.Body)
				if r := s.do(t, apiRequest{method: "GET", path: "/v1/todos/" + td.ID, as: olga}); r.Status != 200 {
					t.Errorf("the owner cannot read a member's new todo: %d", r.Status)
				}
			}},
		post("SuccessPersonalWithNull", mia, `{"title":"mine","organization_id":null}`, 201, ""),
		post("ErrNonMember", nina, inAcme, 403, codeNotAMember),
		{name: "ErrNonMemberSameAsMissingOrganization", method: "POST", path: "/v1/todos", as: nina, body: inAcme, wantStatus: 403, wantCode: codeNotAMember, check: sameAsMissing},
		post("ErrRemovedMember", exa, inAcme, 403, codeNotAMember),
		post("ErrNoSuchOrganization", mia, `{"title":"x","organization_id":"nope"}`, 403, codeNotAMember),
		post("ErrOrganizationIDEmpty", mia, `{"title":"x","organization_id":""}`, 422, codeValidation),
		post("ErrOrganizationIDWrongType", mia, `{"title":"x","organization_id":5}`, 400, codeInvalidType),
		keyed(post("ErrKeyedNonMember", nina, inAcme, 403, codeNotAMember), "k-nina"),
		keyed(post("SuccessKeyed", mia, inAcme, 201, ""), "k-1"),
		keyed(apiScenario{name: "SuccessKeyedReplay", method: "POST", path: "/v1/todos", as: mia, body: inAcme, wantStatus: 201,
			wantBody: map[string]any{"organization_id": acme}, wantHeader: map[string]string{"Idempotent-Replayed": "true"}}, "k-1"),
		keyed(post("ErrKeyReusedForPersonal", mia, `{"title":"shared"}`, 422, codeReplayedKey), "k-1"),
	}
}

func patchOrganizationTodoCases() []apiScenario {
	patch := func(name, id, as, body string, status int, code string) apiScenario {
		return apiScenario{name: name, method: "PATCH", path: "/v1/todos/" + id, as: as, body: body, wantStatus: status, wantCode: code}
	}
	return []apiScenario{
		patch("NotFoundNonMember", acmeOlga, nina, `{"completed":true}`, 404, codeNotFound),
		patch("NotFoundRemovedMember", acmeExa, exa, `{"completed":true}`, 404, codeNotFound),
		patch("NotFoundOrgMatesPersonalTodo", miaPersonal, olga, `{"organization_id":"`+acme+`"}`, 404, codeNotFound),
		patch("ErrMakeAnothersTodoPersonal", acmeOlga, mia, `{"organization_id":null}`, 403, codeNotAllowed),
		patch("ErrMoveIntoOrganizationNotAMember", miaPersonal, mia, `{"organization_id":"`+beta+`"}`, 403, codeNotAMember),
		patch("ErrMoveAcrossNotAMember", acmeOlga, olga, `{"organization_id":"`+beta+`"}`, 403, codeNotAMember),
		patch("ErrMoveIntoNoSuchOrganization", miaPersonal, mia, `{"organization_id":"nope"}`, 403, codeNotAMember),
		{name: "ErrPreconditionFailed", method: "PATCH", path: "/v1/todos/" + acmeOlga, as: mia, body: `{"completed":true}`,
			header: map[string]string{"If-Match": `"0"`}, wantStatus: 412, wantCode: "precondition_failed"},
		{name: "SuccessMemberEditsAnothersTodo", method: "PATCH", path: "/v1/todos/" + acmeOlga, as: mia, body: `{"completed":true,"title":"done by mia"}`,
			wantStatus: 200, wantBody: map[string]any{"user_id": olga, "organization_id": acme, "completed": true, "title": "done by mia"}},
		{name: "SuccessMoveIntoOrganization", method: "PATCH", path: "/v1/todos/" + miaPersonal, as: mia, body: `{"organization_id":"` + acme + `"}`,
			wantStatus: 200, wantBody: map[string]any{"user_id": mia, "organization_id": acme},
			check: func(t *testing.T, s *apiServer, _ apiResponse) {
				if r := s.do(t, apiRequest{method: "GET", path: "/v1/todos/" + miaPersonal, as: olga}); r.Status != 200 {
					t.Errorf("the owner cannot see the todo mia moved in: %d", r.Status)
				}
			}},
		{name: "SuccessCreatorMakesItPersonal", method: "PATCH", path: "/v1/todos/" + acmeMia, as: mia, body: `{"organization_id":null}`,
			wantStatus: 200, wantBody: map[string]any{"user_id": mia, "organization_id": nil},
			check: func(t *testing.T, s *apiServer, _ apiResponse) {
				if r := s.do(t, apiRequest{method: "GET", path: "/v1/todos/" + acmeMia, as: olga}); r.Status != 404 {
					t.Errorf("the owner still sees the todo mia took out: %d", r.Status)
				}
			}},
	}
}

func deleteOrganizationTodoCases() []apiScenario {
	del := func(name, id, as string, status int, code, tag string) apiScenario {
		sc := apiScenario{name: name, method: "DELETE", path: "/v1/todos/" + id, as: as, wantStatus: status, wantCode: code}
		if tag != "" {
			sc.header = map[string]string{"If-Match": tag}
		}
		return sc
	}
	return []apiScenario{
		del("NotFoundNonMember", acmeOlga, nina, 404, codeNotFound, ""),
		del("NotFoundRemovedMembersOwnTodo", acmeExa, exa, 404, codeNotFound, ""),
		del("ErrMemberDeletesAnothersTodo", acmeOlga, mia, 403, codeNotAllowed, ""),
		del("ErrMemberDeletesAnothersTodoIfMatchAny", acmeOlga, mia, 403, codeNotAllowed, "*"),
		del("ErrMemberDeletesAnothersTodoStaleIfMatch", acmeOlga, mia, 412, "precondition_failed", `"0"`),
		// With the todo's current ETag the precondition holds, so the
		// answer is the refusal, not 412.
		{name: "ErrMemberDeletesAnothersTodoCurrentIfMatch", method: "GET", path: "/v1/todos/" + acmeOlga, as: mia, wantStatus: 200,
			check: func(t *testing.T, s *apiServer, resp apiResponse) {
				r := s.do(t, apiRequest{method: "DELETE", path: "/v1/todos/" + acmeOlga, as: mia, header: map[string]string{"If-Match": resp.Header.Get("ETag")}})
				if r.Status != 403 || r.problem(t).Code != codeNotAllowed {
					t.Errorf("DELETE with the current ETag: %d %s, want 403 %s", r.Status, r.Body, codeNotAllowed)
				}
				if n := s.count(t, `select count(*) from todos where id = $1`, acmeOlga); n != 1 {
					t.Error("the refused delete deleted the todo")
				}
			}},
		del("SuccessCreator", acmeMia, mia, 204, "", ""),
		del("SuccessAdmin", acmeOlga, adam, 204, "", ""),
		del("SuccessOwnerDeletesRemovedMembersTodo", acmeExa, olga, 204, "", ""),
		del("NotFoundOtherOrganizationsOwner", betaNina, olga, 404, codeNotFound, ""),
	}
}

// TestAPIRemovedMemberLosesAccessAtOnce: a member removed in Better Auth
// sees nothing of the organization on their very next request, with the
// token they already hold.
func TestAPIRemovedMemberLosesAccessAtOnce(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	seedAPI(t, s)
	seedOrganizations(t, s)
	token := s.tokenFor(t, mia)
	orgTodos := []string{acmeOlga, acmeMia, acmeExa}
	as := func(method, path string) apiResponse {
		return s.do(t, apiRequest{method: method, path: path, bearer: token})
	}
	if page := apiDecode[apiPage](t, as("GET", "/v1/todos?organization_id="+acme).Body); len(page.Items) != len(orgTodos) {
		t.Fatalf("before the removal mia sees %d of acme's todos, want %d", len(page.Items), len(orgTodos))
	}
	for _, id := range orgTodos {
		if r := as("GET", "/v1/todos/"+id); r.Status != 200 {
			t.Fatalf("before the removal GET %s: %d", id, r.Status)
		}
	}
	s.exec(t, `delete from better_auth.member where "userId" = $1`, mia)

	if page := apiDecode[apiPage](t, as("GET", "/v1/todos?organization_id="+acme).Body); len(page.Items) != 0 {
		t.Errorf("after the removal mia sees %d of acme's todos, want 0", len(page.Items))
	}
	if orgs := as("GET", "/v1/organizations"); string(orgs.Body) != `{"items":[]}` {
		t.Errorf("after the removal mia's organizations: %s", orgs.Body)
	}
	for _, id := range orgTodos {
		for _, method := range []string{"GET", "DELETE"} {
			if r := as(method, "/v1/todos/"+id); r.Status != 404 {
				t.Errorf("after the removal %s %s (her own: %v): %d, want 404", method, id, id == acmeMia, r.Status)
			}
		}
		if r := s.do(t, apiRequest{method: "PATCH", path: "/v1/todos/" + id, bearer: token, body: `{"completed":true}`}); r.Status != 404 {
			t.Errorf("after the removal PATCH %s: %d, want 404", id, r.Status)
		}
	}
	if r := s.do(t, apiRequest{method: "POST", path: "/v1/todos", bearer: token, body: `{"title":"x","organization_id":"` + acme + `"}`}); r.Status != 403 {
		t.Errorf("after the removal POST into acme: %d, want 403", r.Status)
	}
	if r := as("GET", "/v1/todos/"+miaPersonal); r.Status != 200 {
		t.Errorf("after the removal mia's own personal todo: %d, want 200", r.Status)
	}
}
