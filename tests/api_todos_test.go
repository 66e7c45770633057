package tests

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// TestAPIPagination walks the keyset pagination with every filter and page
// size: the pages together hold each of the caller's todos exactly once,
// newest first (ties on created_at broken by id), and the last page has a
// null next_cursor.
func TestAPIPagination(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	seedAPI(t, s)
	seedManyTodos(t, s, alice, 45)
	seedManyTodos(t, s, bob, 30)
	for _, filter := range []string{"", "true", "false"} {
		for _, limit := range []string{"", "1", "7", "47", "100"} {
			t.Run("completed="+filter+"/limit="+limit, func(t *testing.T) {
				q := url.Values{}
				if filter != "" {
					q.Set("completed", filter)
				}
				if limit != "" {
					q.Set("limit", limit)
				}
				got, want := walkList(t, s, alice, q), s.idsOf(t, alice, filter)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("pages hold %v,\nwant %v", got, want)
				}
			})
		}
	}
	t.Run("DefaultLimit", func(t *testing.T) {
		p := apiDecode[apiPage](t, s.do(t, apiRequest{method: "GET", path: "/v1/todos", as: alice}).Body)
		if len(p.Items) != 20 || p.NextCursor == nil {
			t.Errorf("first page: %d items, next_cursor %v; want 20 and a cursor", len(p.Items), p.NextCursor)
		}
	})
	t.Run("ExactlyOnePageHasNoCursor", func(t *testing.T) {
		p := apiDecode[apiPage](t, s.do(t, apiRequest{method: "GET", path: "/v1/todos?limit=47", as: alice}).Body)
		if len(p.Items) != 47 || p.NextCursor != nil {
			t.Errorf("limit=47 over 47 todos: %d items, next_cursor %v", len(p.Items), p.NextCursor)
		}
	})
	t.Run("CursorSurvivesDeletion", func(t *testing.T) {
		p := apiDecode[apiPage](t, s.do(t, apiRequest{method: "GET", path: "/v1/todos?completed=false&limit=3", as: alice}).Body)
		last := p.Items[2].ID
		s.exec(t, `delete from todos where id = $1`, last)
		next := s.do(t, apiRequest{method: "GET", path: "/v1/todos?completed=false&limit=3&cursor=" + *p.NextCursor, as: alice})
		want := s.idsOf(t, alice, "false")[2:5]
		if got := apiDecode[apiPage](t, next.Body).Items; len(got) != 3 || got[0].ID != want[0] {
			t.Errorf("after deleting the cursor's row the next page starts at %v, want %v", got, want)
		}
	})
}

// TestAPICursorTampering shows every cursor the API did not issue for this
// filter is a 400 that changes nothing, not a page from somewhere else.
func TestAPICursorTampering(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	seedAPI(t, s)
	seedManyTodos(t, s, alice, 10)
	first := func(query string) string {
		p := apiDecode[apiPage](t, s.do(t, apiRequest{method: "GET", path: "/v1/todos?" + query, as: alice}).Body)
		if p.NextCursor == nil {
			t.Fatalf("?%s: no next_cursor", query)
		}
		return *p.NextCursor
	}
	all, done, open := first("limit=2"), first("limit=2&completed=true"), first("limit=2&completed=false")
	flip := func(c string, i int) string {
		b := []byte(c)
		b[i] = map[bool]byte{true: 'B', false: 'A'}[b[i] == 'A']
		return string(b)
	}
	cases := []struct{ name, query string }{
		{"FlippedVersion", "cursor=" + flip(all, 0)},
		{"FlippedTimestamp", "cursor=" + flip(all, 5)},
		{"FlippedID", "cursor=" + flip(all, 20)},
		{"FlippedCheck", "cursor=" + flip(all, 40)},
		{"Truncated", "cursor=" + all[:len(all)-1]},
		{"Extended", "cursor=" + all + "A"},
		{"Padded", "cursor=" + url.QueryEscape(all+"==")},
		{"StandardBase64", "cursor=" + url.QueryEscape(strings.NewReplacer("-", "+", "_", "/").Replace(all)) + "%2B"},
		{"UnfilteredCursorWithFilter", "completed=true&cursor=" + all},
		{"CompletedCursorWithoutFilter", "cursor=" + done},
		{"CompletedCursorForOpen", "completed=false&cursor=" + done},
		{"OpenCursorForCompleted", "completed=true&cursor=" + open},
		{"Repeated", "cursor=" + all + "&cursor=" + all},
	}
	for _, c := range cases {
		t.Run("Err"+c.name, func(t *testing.T) {
			before := s.snapshot(t)
			resp := s.do(t, apiRequest{method: "GET", path: "/v1/todos?" + c.query, as: alice})
			if resp.Status != 400 {
				t.Fatalf("status %d, want 400: %s", resp.Status, clipBody(resp.Body))
			}
			if code := resp.problem(t).Code; code != "invalid_cursor" && code != codeBadParam {
				t.Errorf("code %q", code)
			}
			if s.snapshot(t) != before {
				t.Error("the database changed")
			}
		})
	}
	t.Run("SuccessSameCursorOtherLimit", func(t *testing.T) {
		if resp := s.do(t, apiRequest{method: "GET", path: "/v1/todos?limit=5&cursor=" + all, as: alice}); resp.Status != 200 {
			t.Errorf("a cursor with another page size: %d", resp.Status)
		}
	})
	t.Run("SuccessAnotherUsersCursorShowsOnlyOwnRows", func(t *testing.T) {
		// A cursor is a position, not a grant: bob following alice's
		// cursor still sees only his own rows (checkAPIOwnership).
		if resp := s.do(t, apiRequest{method: "GET", path: "/v1/todos?cursor=" + all, as: bob}); resp.Status != 200 {
			t.Errorf("bob with alice's cursor: %d", resp.Status)
		}
	})
}

// TestAPIETags follows a todo's versions: each write changes the ETag,
// If-Match with the current one succeeds, with an old one answers 412 and
// writes nothing, and If-None-Match answers 304.
func TestAPIETags(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	seedAPI(t, s)
	created := s.do(t, apiRequest{method: "POST", path: "/v1/todos", as: alice, body: `{"title":"v1"}`})
	path, v1 := created.Header.Get("Location"), created.Header.Get("ETag")
	get := func(hdr map[string]string) apiResponse {
		return s.do(t, apiRequest{method: "GET", path: path, as: alice, header: hdr})
	}
	patch := func(tag, body string) apiResponse {
		return s.do(t, apiRequest{method: "PATCH", path: path, as: alice, body: body, header: map[string]string{"If-Match": tag}})
	}
	if got := get(nil).Header.Get("ETag"); got != v1 || !strings.HasPrefix(v1, `"`) {
		t.Fatalf("GET ETag %q, POST ETag %q", got, v1)
	}
	if r := get(map[string]string{"If-None-Match": v1}); r.Status != 304 || len(r.Body) != 0 || r.Header.Get("ETag") != v1 {
		t.Errorf("If-None-Match current: %d, ETag %q, body %q", r.Status, r.Header.Get("ETag"), r.Body)
	}
	if r := get(map[string]string{"If-None-Match": "W/" + v1}); r.Status != 304 {
		t.Errorf("If-None-Match weak current: %d, want 304 (weak comparison)", r.Status)
	}
	if r := get(map[string]string{"If-None-Match": `"other", ` + v1}); r.Status != 304 {
		t.Errorf("If-None-Match list with current: %d, want 304", r.Status)
	}

	r := patch(v1, `{"title":"v2"}`)
	v2 := r.Header.Get("ETag")
	if r.Status != 200 || v2 == v1 || v2 == "" {
		t.Fatalf("PATCH with current ETag: %d, ETag %q (was %q)", r.Status, v2, v1)
	}
	if r := get(map[string]string{"If-None-Match": v1}); r.Status != 200 {
		t.Errorf("If-None-Match old: %d, want 200", r.Status)
	}
	before := s.snapshot(t)
	if r := patch(v1, `{"title":"lost update"}`); r.Status != 412 || r.problem(t).Code != "precondition_failed" {
		t.Errorf("PATCH with old ETag: %d %s", r.Status, r.Body)
	}
	if r := patch(v1, `{}`); r.Status != 412 {
		t.Errorf("empty PATCH with old ETag: %d", r.Status)
	}
	if r := s.do(t, apiRequest{method: "DELETE", path: path, as: alice, header: map[string]string{"If-Match": v1}}); r.Status != 412 {
		t.Errorf("DELETE with old ETag: %d", r.Status)
	}
	if s.snapshot(t) != before {
		t.Error("a failed precondition changed the database")
	}
	if r := patch(v2, `{}`); r.Status != 200 || r.Header.Get("ETag") != v2 {
		t.Errorf("empty PATCH with current ETag: %d, ETag %q; want 200 and no new version", r.Status, r.Header.Get("ETag"))
	}
	if r := s.do(t, apiRequest{method: "DELETE", path: path, as: alice, header: map[string]string{"If-Match": v2}}); r.Status != 204 {
		t.Errorf("DELETE with current ETag: %d", r.Status)
	}
	if r := get(nil); r.Status != 404 {
		t.Errorf("GET after DELETE: %d", r.Status)
	}
}

// TestAPINotFoundIsUniform compares the 404 bodies of every way a todo can
// be missing, on every method: they must be the same.
func TestAPINotFoundIsUniform(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	seedAPI(t, s)
	for _, m := range []struct{ method, body string }{{"GET", ""}, {"PATCH", `{"title":"x"}`}, {"DELETE", ""}} {
		var first map[string]any
		for _, id := range []string{noSuchTodo, bobTodo, bobDone, "not-a-uuid", strings.Repeat("0", 36), "x"} {
			resp := s.do(t, apiRequest{method: m.method, path: "/v1/todos/" + id, as: alice, body: m.body})
			if resp.Status != 404 {
				t.Fatalf("%s %s: %d", m.method, id, resp.Status)
			}
			body := problemWithoutRequestID(t, resp.Body)
			if first == nil {
				first = body
			} else if !reflect.DeepEqual(first, body) {
				t.Errorf("%s %s: 404 body %v differs from %v", m.method, id, body, first)
			}
		}
	}
}

// TestAPIBodyLimit checks the 64 KiB limit at its edge, with a declared
// length and with a chunked body: one byte over is 413, exactly at the
// limit is read (and here fails validation instead).
func TestAPIBodyLimit(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	seedAPI(t, s)
	body := func(size int) []byte {
		prefix, suffix := `{"title":"x","description":"`, `"}`
		return []byte(prefix + strings.Repeat("d", size-len(prefix)-len(suffix)) + suffix)
	}
	cases := []struct {
		name     string
		size     int
		chunked  bool
		want     int
		wantCode string
	}{
		{"ErrAtLimitValidation", 64 << 10, false, 422, codeValidation},
		{"ErrAtLimitChunkedValidation", 64 << 10, true, 422, codeValidation},
		{"ErrOverLimit", 64<<10 + 1, false, 413, "body_too_large"},
		{"ErrOverLimitChunked", 64<<10 + 1, true, 413, "body_too_large"},
		{"ErrFarOverLimit", 1 << 20, false, 413, "body_too_large"},
		{"ErrFarOverLimitChunked", 1 << 20, true, 413, "body_too_large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := s.snapshot(t)
			var rd io.Reader = bytes.NewReader(body(c.size))
			if c.chunked {
				rd = io.MultiReader(rd) // hides the length: sent chunked
			}
			req, err := http.NewRequest("POST", s.URL+"/v1/todos", rd)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+s.tokenFor(t, alice))
			r := apiRequest{method: "POST", path: "/v1/todos", as: alice}
			resp, err := s.send(t, req, r)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != c.want || resp.problem(t).Code != c.wantCode {
				t.Errorf("%d bytes: %d %s, want %d %s", c.size, resp.Status, clipBody(resp.Body), c.want, c.wantCode)
			}
			if s.snapshot(t) != before {
				t.Error("the database changed")
			}
		})
	}
}
