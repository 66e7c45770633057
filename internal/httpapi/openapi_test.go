package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// operationKeys are the members of an OpenAPI path item that are
// operations; the others (parameters, summary...) are not.
var operationKeys = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func parseOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return doc
}

// routerOperations lists the router's routes as "METHOD /path/{param}",
// leaving out Echo's catch-all entries for the /v1 group.
func routerOperations(t *testing.T) []string {
	t.Helper()
	pass := func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	e := New(Options{Auth: pass})
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	var ops []string
	for _, r := range e.Routes() {
		if !slices.Contains(operationKeys, strings.ToLower(r.Method)) || strings.HasSuffix(r.Path, "*") {
			continue // RouteNotFound and the group's catch-alls
		}
		ops = append(ops, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	sort.Strings(ops)
	return ops
}

func documentedOperations(doc map[string]any) []string {
	var ops []string
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			if slices.Contains(operationKeys, method) {
				ops = append(ops, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(ops)
	return ops
}

// TestOpenAPIMatchesRouter keeps openapi.json true to the router, both
// ways: every route is documented and every documented operation is a
// route.
func TestOpenAPIMatchesRouter(t *testing.T) {
	t.Parallel()
	routes, documented := routerOperations(t), documentedOperations(parseOpenAPI(t))
	if len(routes) < 12 {
		t.Fatalf("the router lists only %v", routes)
	}
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("openapi.json documents %s, which the router does not serve", d)
		}
	}
}

// TestOpenAPIDocument checks the document itself: OpenAPI 3.1, every $ref
// resolves, operation ids are unique, path parameters are declared, and
// the /v1 operations (and only they) need the bearer token and document
// the 401 that follows and the 429 of the rate limits.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc := parseOpenAPI(t)
	if v, _ := doc["openapi"].(string); !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v) {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	if info, _ := doc["info"].(map[string]any); info["title"] == nil || info["version"] == nil {
		t.Errorf("info lacks title or version: %v", info)
	}
	checkRefs(t, doc, doc, "#")
	seen := map[string]string{}
	for path, item := range doc["paths"].(map[string]any) {
		item := item.(map[string]any)
		for _, method := range operationKeys {
			op, ok := item[method].(map[string]any)
			if !ok {
				continue
			}
			where := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			if id == "" || seen[id] != "" {
				t.Errorf("%s: operationId %q is missing or also used by %s", where, id, seen[id])
			}
			seen[id] = where
			checkPathParams(t, where, path, item, op)
			checkSecurity(t, where, path, op)
		}
	}
}

func checkRefs(t *testing.T, doc map[string]any, v any, at string) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			var target any = doc
			for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
				m, _ := target.(map[string]any)
				target = m[p]
			}
			if target == nil || !strings.HasPrefix(ref, "#/") {
				t.Errorf("%s: $ref %q does not resolve", at, ref)
			}
		}
		for k, e := range v {
			checkRefs(t, doc, e, at+"/"+k)
		}
	case []any:
		for _, e := range v {
			checkRefs(t, doc, e, at+"/[]")
		}
	}
}

func checkPathParams(t *testing.T, where, path string, item, op map[string]any) {
	t.Helper()
	declared := map[string]bool{}
	for _, list := range []any{item["parameters"], op["parameters"]} {
		ps, _ := list.([]any)
		for _, p := range ps {
			p := p.(map[string]any)
			if p["in"] == "path" {
				declared[p["name"].(string)] = p["required"] == true
			}
		}
	}
	for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
		if !declared[m[1]] {
			t.Errorf("%s: path parameter %q is not declared as a required path parameter", where, m[1])
		}
		delete(declared, m[1])
	}
	for name := range declared {
		t.Errorf("%s: declares path parameter %q the path does not have", where, name)
	}
}

func checkSecurity(t *testing.T, where, path string, op map[string]any) {
	t.Helper()
	sec, overridden := op["security"].([]any)
	public := overridden && len(sec) == 0
	responses, _ := op["responses"].(map[string]any)
	if len(responses) == 0 {
		t.Errorf("%s documents no response", where)
	}
	switch v1 := strings.HasPrefix(path, "/v1/"); {
	case v1 && public:
		t.Errorf("%s is under /v1 but documented as needing no token", where)
	case v1 && responses["401"] == nil:
		t.Errorf("%s needs a token but does not document 401", where)
	case v1 && responses["429"] == nil:
		t.Errorf("%s is rate limited but does not document 429", where)
	case !v1 && !public:
		t.Errorf("%s is served without a token but the document asks for one", where)
	}
}

// TestOpenAPIServed checks GET /openapi.json answers the embedded document.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := New(Options{Auth: func(next echo.HandlerFunc) echo.HandlerFunc { return next }})
	rec := newRecorder(e, http.MethodGet, "/openapi.json")
	if rec.Code != 200 || rec.Body.String() != string(openAPIDoc) || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("GET /openapi.json: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

func newRecorder(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

// TestOpenAPIRequestBodiesHaveNoDefault keeps `default` out of every schema
// a request body uses, down through $refs, properties, items and
// combinators. openapi-typescript 7 at its default settings
// (defaultNonNullable) turns a property that has a default into a REQUIRED
// one, so a `default` on NewTodo.completed made the typed client demand
// `completed` on every create. A request field's default is stated in its
// description instead; responses may keep theirs.
func TestOpenAPIRequestBodiesHaveNoDefault(t *testing.T) {
	t.Parallel()
	doc := parseOpenAPI(t)
	bodies := 0
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			op, ok := op.(map[string]any)
			if !ok || !slices.Contains(operationKeys, method) || op["requestBody"] == nil {
				continue
			}
			bodies++
			where := strings.ToUpper(method) + " " + path + " requestBody"
			for _, at := range schemaDefaults(doc, op["requestBody"], where, map[string]bool{}) {
				t.Errorf("%s carries a `default`: state it in the description instead", at)
			}
		}
	}
	if bodies < 3 {
		t.Fatalf("found only %d request bodies; the walk is broken", bodies)
	}
}

// schemaDefaults returns where under v a `default` member is, following
// local $refs once each (seen) so that a recursive schema ends.
func schemaDefaults(doc map[string]any, v any, at string, seen map[string]bool) []string {
	var found []string
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["default"]; ok {
			found = append(found, at)
		}
		if ref, ok := v["$ref"].(string); ok && !seen[ref] {
			seen[ref] = true
			found = append(found, schemaDefaults(doc, resolveRef(doc, ref), at+" → "+ref, seen)...)
		}
		for k, e := range v {
			if k != "default" && k != "examples" && k != "example" {
				found = append(found, schemaDefaults(doc, e, at+"/"+k, seen)...)
			}
		}
	case []any:
		for i, e := range v {
			found = append(found, schemaDefaults(doc, e, fmt.Sprintf("%s/%d", at, i), seen)...)
		}
	}
	return found
}

// resolveRef returns what a local $ref ("#/components/...") points to, or
// nil.
func resolveRef(doc map[string]any, ref string) any {
	var target any = doc
	for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, _ := target.(map[string]any)
		target = m[p]
	}
	return target
}
