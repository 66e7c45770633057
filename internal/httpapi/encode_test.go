package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rowgate/rowgate/internal/todo"
)

// The hand-written encoder must say exactly what encoding/json would say
// about the same values. These mirror structs are the encoding/json side:
// the field names and types the OpenAPI document promises.
type todoMirror struct {
	ID             string    `json:"id"`
	UserID         string    `json:"user_id"`
	OrganizationID *string   `json:"organization_id"`
	Title          string    `json:"title"`
	Description    *string   `json:"description"`
	Completed      bool      `json:"completed"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

type userMirror struct {
	ID        string    `json:"id"`
	Email     *string   `json:"email"`
	Name      *string   `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type pageMirror struct {
	Items      []todoMirror `json:"items"`
	NextCursor *string      `json:"next_cursor"`
}

func mirrorTodo(t *todo.Todo) todoMirror {
	return todoMirror{t.ID, t.UserID, t.OrganizationID, t.Title, t.Description, t.Completed, t.CreatedAt, t.UpdatedAt}
}

// sameJSON decodes ours and theirs into a fresh *T each, strictly, and
// compares the values (times by instant) and the key sets.
func sameJSON[T any](t *testing.T, ours, theirs []byte) {
	t.Helper()
	if !json.Valid(ours) || !utf8.Valid(ours) {
		t.Fatalf("not valid JSON or UTF-8: %q", ours)
	}
	var a, b T
	for _, d := range []struct {
		data []byte
		into *T
	}{{ours, &a}, {theirs, &b}} {
		dec := json.NewDecoder(bytes.NewReader(d.data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(d.into); err != nil {
			t.Fatalf("decode %s: %v", d.data, err)
		}
	}
	if !equalValues(reflect.ValueOf(a), reflect.ValueOf(b)) {
		t.Fatalf("values differ:\nours   %s\ntheirs %s", ours, theirs)
	}
	var ka, kb any
	json.Unmarshal(ours, &ka)
	json.Unmarshal(theirs, &kb)
	if !reflect.DeepEqual(keysOf(ka), keysOf(kb)) {
		t.Fatalf("keys differ:\nours   %s\ntheirs %s", ours, theirs)
	}
}

// equalValues is reflect.DeepEqual with time.Time compared by instant.
func equalValues(a, b reflect.Value) bool {
	if a.Type() == reflect.TypeOf(time.Time{}) {
		return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValues(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !equalValues(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalValues(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	}
	return a.Interface() == b.Interface()
}

// keysOf lists the object keys at every depth, by path.
func keysOf(v any) []string {
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				out = append(out, prefix+"."+k)
				walk(prefix+"."+k, e)
			}
		case []any:
			for _, e := range v {
				walk(prefix+"[]", e)
			}
		}
	}
	walk("", v)
	slices.Sort(out)
	return slices.Compact(out)
}

func strp(s string) *string { return &s }

// tricky strings: escapes, HTML characters, line separators, invalid UTF-8.
var trickyStrings = []string{
	"", "plain", `"quoted" \back\slash/`, "\x00\x01\x08\x09\x0a\x0c\x0d\x1f\x7f", "<script>&amp;</script>",
	"\u2028\u2029", "é 😀 中文", "\xff", "a\xffb", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\ufffd", "\ufeff",
	strings.Repeat("x", 5000),
}

func TestAppendTodoMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 25, 21, 3, 33, 393178000, time.UTC)
	todos := []todo.Todo{
		{ID: "00000000-0000-4000-8000-00000000000a", UserID: "alice", Title: "t", CreatedAt: base, UpdatedAt: base},
		{ID: "x", UserID: "u", Title: "t", Description: strp(""), Completed: true, CreatedAt: base, UpdatedAt: base.Add(time.Nanosecond)},
		{ID: "x", UserID: "u", OrganizationID: strp("org"), Title: "t", CreatedAt: base, UpdatedAt: base},
		{CreatedAt: time.Time{}, UpdatedAt: base.In(time.FixedZone("odd", -(3*3600 + 30*60)))},
		{CreatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), UpdatedAt: time.Unix(0, 0)},
	}
	for _, s := range trickyStrings {
		todos = append(todos, todo.Todo{ID: s, UserID: s, OrganizationID: strp(s), Title: s, Description: strp(s), CreatedAt: base, UpdatedAt: base})
	}
	for _, td := range todos {
		theirs, err := json.Marshal(mirrorTodo(&td))
		if err != nil {
			t.Fatal(err)
		}
		sameJSON[todoMirror](t, appendTodo(nil, &td), theirs)
	}
}

func TestAppendUserMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 25, 21, 3, 33, 1000, time.UTC)
	users := []todo.User{{ID: "u", CreatedAt: base, UpdatedAt: base}}
	for _, s := range trickyStrings {
		users = append(users, todo.User{ID: s, Email: strp(s), Name: strp(s), CreatedAt: base, UpdatedAt: base.Local()})
	}
	for _, u := range users {
		theirs, err := json.Marshal(userMirror{u.ID, u.Email, u.Name, u.CreatedAt, u.UpdatedAt})
		if err != nil {
			t.Fatal(err)
		}
		sameJSON[userMirror](t, appendUser(nil, &u), theirs)
	}
}

func TestAppendPageMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 25, 21, 3, 33, 393178000, time.UTC)
	item := todo.Todo{ID: "00000000-0000-4000-8000-00000000000a", UserID: "alice", Title: "<t>", CreatedAt: base, UpdatedAt: base}
	yes, org := true, "org"
	next := &todo.Cursor{CreatedAt: base, ID: item.ID}
	for _, tc := range []struct {
		page todo.Page
		q    todo.ListQuery
	}{
		{todo.Page{Items: []todo.Todo{}}, todo.ListQuery{}},
		{todo.Page{Items: []todo.Todo{item}}, todo.ListQuery{}},
		{todo.Page{Items: []todo.Todo{item, item}, Next: next}, todo.ListQuery{Completed: &yes}},
		{todo.Page{Items: []todo.Todo{item, item}, Next: next}, todo.ListQuery{Completed: &yes, OrganizationID: &org}},
	} {
		m := pageMirror{Items: []todoMirror{}}
		for i := range tc.page.Items {
			m.Items = append(m.Items, mirrorTodo(&tc.page.Items[i]))
		}
		if tc.page.Next != nil {
			m.NextCursor = strp(encodeCursor(*tc.page.Next, tc.q.Completed, tc.q.OrganizationID))
		}
		theirs, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON[pageMirror](t, appendPage(nil, &tc.page, &tc.q), theirs)
	}
}

// FuzzAppendString: for any Go string, including invalid UTF-8, the
// output is valid JSON that decodes to what encoding/json's encoding of
// the same string decodes to, and it escapes what the doc comment says.
func FuzzAppendString(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ours := appendString([]byte("prefix"), s)
		if !bytes.HasPrefix(ours, []byte("prefix")) {
			t.Fatal("appendString overwrote the buffer")
		}
		ours = ours[len("prefix"):]
		if !json.Valid(ours) || !utf8.Valid(ours) {
			t.Fatalf("appendString(%q) = %q: not valid JSON", s, ours)
		}
		var got, want string
		if err := json.Unmarshal(ours, &got); err != nil {
			t.Fatal(err)
		}
		theirs, _ := json.Marshal(s)
		if err := json.Unmarshal(theirs, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("appendString(%q) decodes to %q; encoding/json gives %q", s, got, want)
		}
		if bytes.ContainsAny(ours[1:len(ours)-1], "<>&\u2028\u2029") {
			t.Fatalf("appendString(%q) = %q leaves an HTML-sensitive character unescaped", s, ours)
		}
	})
}

// FuzzAppendTodo compares a whole todo with encoding/json.
func FuzzAppendTodo(f *testing.F) {
	f.Add("00000000-0000-4000-8000-00000000000a", "alice", "title", "desc", true, false, int64(0), int64(1))
	f.Add("", "", "", "", false, true, int64(-1<<62), int64(1<<62))
	f.Add("\xff", "<&>", "\u2028", "\x00", true, true, int64(1764104613393178000), int64(-6795364578871345152))
	f.Fuzz(func(t *testing.T, id, user, title, desc string, hasDesc, completed bool, created, updated int64) {
		td := todo.Todo{ID: id, UserID: user, Title: title, Completed: completed,
			CreatedAt: time.Unix(0, created).UTC(), UpdatedAt: time.Unix(0, updated).In(time.FixedZone("z", 5400))}
		if hasDesc {
			td.Description = &desc
		} else {
			td.OrganizationID = &desc // the other nullable string, so both shapes are fuzzed
		}
		theirs, err := json.Marshal(mirrorTodo(&td))
		if err != nil {
			t.Skip(err)
		}
		sameJSON[todoMirror](t, appendTodo(nil, &td), theirs)
	})
}

// FuzzAppendUser compares a whole user with encoding/json.
func FuzzAppendUser(f *testing.F) {
	f.Add("alice", "a@example.com", "Alice", true, true, int64(0))
	f.Add("\xff\xfe", "\u2029", "", false, true, int64(-1))
	f.Fuzz(func(t *testing.T, id, email, name string, hasEmail, hasName bool, at int64) {
		u := todo.User{ID: id, CreatedAt: time.Unix(0, at).UTC(), UpdatedAt: time.Unix(0, at)}
		if hasEmail {
			u.Email = &email
		}
		if hasName {
			u.Name = &name
		}
		theirs, err := json.Marshal(userMirror{u.ID, u.Email, u.Name, u.CreatedAt, u.UpdatedAt})
		if err != nil {
			t.Skip(err)
		}
		sameJSON[userMirror](t, appendUser(nil, &u), theirs)
	})
}
