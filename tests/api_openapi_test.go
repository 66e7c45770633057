package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// openAPIPath is the document the server embeds and serves.
const openAPIPath = "../internal/httpapi/openapi.json"

var (
	openAPIOnce sync.Once
	openAPIRaw  []byte
	openAPIDoc  map[string]any
	openAPIErr  error
)

// loadOpenAPI parses the OpenAPI document once per test binary.
func loadOpenAPI(t testing.TB) map[string]any {
	t.Helper()
	openAPIOnce.Do(func() {
		if openAPIRaw, openAPIErr = os.ReadFile(openAPIPath); openAPIErr == nil {
			openAPIErr = json.Unmarshal(openAPIRaw, &openAPIDoc)
		}
	})
	if openAPIErr != nil {
		t.Fatalf("%s: %v", openAPIPath, openAPIErr)
	}
	return openAPIDoc
}

// TestAPIServesItsOpenAPI checks /openapi.json is the document in the
// repository, an OpenAPI 3.1 document.
func TestAPIServesItsOpenAPI(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	s := newAPIServer(t)
	resp := s.do(t, apiRequest{method: "GET", path: "/openapi.json"})
	if resp.Status != 200 || !bytes.Equal(resp.Body, openAPIRaw) {
		t.Errorf("/openapi.json: %d, %d bytes; the repository's document has %d", resp.Status, len(resp.Body), len(openAPIRaw))
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
}

// checkDocumented checks a response against the OpenAPI document: the
// status is documented for the operation, and a documented body has the
// documented media type and validates against its schema. route is Echo's
// pattern (as the access log names it).
func checkDocumented(t *testing.T, method, route string, resp apiResponse) {
	t.Helper()
	doc := loadOpenAPI(t)
	if method == "HEAD" || route == "unmatched" || strings.HasSuffix(route, "/*") || resp.Status == 405 {
		return // Echo's own answers for routes and methods that do not exist
	}
	path := strings.ReplaceAll(route, ":id", "{id}")
	op, _ := oasLookup(doc, "paths", path, strings.ToLower(method)).(map[string]any)
	if op == nil {
		t.Errorf("%s %s is not in the OpenAPI document", method, path)
		return
	}
	r, _ := oasLookup(op, "responses", strconv.Itoa(resp.Status)).(map[string]any)
	if r == nil {
		t.Errorf("%s %s answered %d, which the OpenAPI document does not list", method, path, resp.Status)
		return
	}
	r = oasResolve(doc, r)
	content, _ := r["content"].(map[string]any)
	if len(content) == 0 || len(resp.Body) == 0 {
		if len(resp.Body) != 0 {
			t.Errorf("%s %s %d: a body the document does not describe", method, path, resp.Status)
		}
		return
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	media, _ := content[mt].(map[string]any)
	if media == nil {
		t.Errorf("%s %s %d: Content-Type %q not among the documented %v", method, path, resp.Status, mt, oasKeys(content))
		return
	}
	schema, _ := media["schema"].(map[string]any)
	if schema == nil || !strings.HasSuffix(mt, "json") {
		return
	}
	var body any
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		t.Errorf("%s %s %d: %v", method, path, resp.Status, err)
		return
	}
	if err := oasValidate(doc, schema, body, "$"); err != nil {
		t.Errorf("%s %s %d: the body does not match the document: %v\n%s", method, path, resp.Status, err, clipBody(resp.Body))
	}
}

// oasValidate checks v against the subset of JSON Schema the document uses:
// $ref, type, properties, required, additionalProperties, items,
// minLength, maxLength and the uuid and date-time formats. Annotations are
// ignored.
func oasValidate(doc, schema map[string]any, v any, at string) error {
	schema = oasResolve(doc, schema)
	if err := oasCheckType(schema["type"], v, at); err != nil {
		return err
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for _, r := range oasList(schema["required"]) {
			if _, ok := v[r.(string)]; !ok {
				return fmt.Errorf("%s: required %q missing", at, r)
			}
		}
		for k, e := range v {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if schema["additionalProperties"] == false {
					return fmt.Errorf("%s: %q is not in the schema", at, k)
				}
				continue
			}
			if err := oasValidate(doc, ps, e, at+"."+k); err != nil {
				return err
			}
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range v {
				if err := oasValidate(doc, items, e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case string:
		return oasCheckString(schema, v, at)
	}
	return nil
}

func oasCheckString(schema map[string]any, s, at string) error {
	n := utf8.RuneCountInString(s)
	if m, ok := schema["minLength"].(float64); ok && n < int(m) {
		return fmt.Errorf("%s: %d characters, minLength %v", at, n, m)
	}
	if m, ok := schema["maxLength"].(float64); ok && n > int(m) {
		return fmt.Errorf("%s: %d characters, maxLength %v", at, n, m)
	}
	switch schema["format"] {
	case "uuid":
		if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
			return fmt.Errorf("%s: %q is not a uuid", at, s)
		}
	case "date-time":
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("%s: %q is not a date-time", at, s)
		}
	}
	return nil
}

func oasCheckType(want, v any, at string) error {
	if want == nil {
		return nil
	}
	got := "object"
	switch v := v.(type) {
	case nil:
		got = "null"
	case bool:
		got = "boolean"
	case string:
		got = "string"
	case json.Number:
		got = "number"
		if _, err := v.Int64(); err == nil {
			got = "integer"
		}
	case []any:
		got = "array"
	}
	for _, w := range append(oasList(want), want) {
		if w == got || (w == "number" && got == "integer") {
			return nil
		}
	}
	return fmt.Errorf("%s: a %s, want %v", at, got, want)
}

// oasResolve follows a local $ref.
func oasResolve(doc, m map[string]any) map[string]any {
	for i := 0; i < 10; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var path []string
		for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			path = append(path, strings.NewReplacer("~1", "/", "~0", "~").Replace(p))
		}
		next, _ := oasLookup(doc, path...).(map[string]any)
		if next == nil {
			return map[string]any{"not": "resolvable: " + ref}
		}
		m = next
	}
	return m
}

func oasLookup(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func oasList(v any) []any {
	l, _ := v.([]any)
	return l
}

func oasKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
