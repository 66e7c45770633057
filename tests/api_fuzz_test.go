package tests

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// FuzzCreateTodo posts arbitrary bodies and Content-Types to a real server:
// never a 5xx (and every response passes checkAPIResponse); a refusal
// changes nothing; a 201 stored exactly the title the body gave, for the
// caller. Its seeds run with every `go test`.
func FuzzCreateTodo(f *testing.F) {
	for _, b := range []string{
		`{"title":"a"}`, `{"title":"a","description":"d","completed":true}`, `{"title":""}`, `{"title":null}`,
		`{"title":"a","user_id":"` + bob + `"}`, `{"title":"a","title":"b"}`, `{`, `[]`, ``, `{"title":"a\u0000"}`,
		`{"title":"` + strings.Repeat("é", 501) + `"}`, "{\"title\":\"\xff\"}", `{"title":"a"}x`,
		// White space as Go and PostgreSQL may disagree on it (the title
		// must not be blank in both).
		`{"title":"\u00a0"}`, `{"title":"\u180e"}`, `{"title":"\u200b"}`, `{"title":"\u3000"}`, `{"title":"\u0085"}`,
		`{"title":"\u2028\u2029"}`, `{"title":"\ufeff"}`, `{"title":"\u000b\u000c"}`,
	} {
		f.Add([]byte(b), "application/json")
	}
	f.Add([]byte(`{"title":"a"}`), "text/plain")
	f.Add([]byte(`{"title":"a"}`), "application/json; charset=latin1")
	f.Add([]byte(`{"title":"a"}`), "")
	s := newAPIServer(f)
	seedAPI(f, s)
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		if !validHeaderValue(contentType) {
			t.Skip("not a header value an HTTP client can send")
		}
		if contentType == "" {
			contentType = noContentType
		}
		before := s.snapshot(t)
		resp := s.do(t, apiRequest{method: "POST", path: "/v1/todos", as: alice, body: string(body), contentType: contentType})
		switch {
		case resp.Status == 201:
			var sent struct{ Title string }
			json.Unmarshal(body, &sent)
			created := apiDecode[apiTodo](t, resp.Body)
			if created.Title != sent.Title || created.UserID != alice {
				t.Fatalf("stored %+v from %q", created, body)
			}
		case resp.Status >= 400 && resp.Status < 500:
			if s.snapshot(t) != before {
				t.Fatalf("a %d changed the database; body %q", resp.Status, body)
			}
		default:
			t.Fatalf("status %d for %q", resp.Status, body)
		}
	})
}

// FuzzPatchTodo patches bob's own todo and alice's (as bob) with arbitrary
// bodies and If-Match values: never a 5xx, alice's todo never changes, and
// a refusal changes nothing.
func FuzzPatchTodo(f *testing.F) {
	for _, b := range []string{`{"title":"x"}`, `{"completed":true}`, `{"description":null}`, `{}`, `{"user_id":"x"}`, `{"title":""}`, `null`} {
		f.Add([]byte(b), "")
		f.Add([]byte(b), `"0"`)
	}
	f.Add([]byte(`{"title":"x"}`), `W/"0"`)
	f.Add([]byte(`{"title":"x"}`), `"zzzzzzzzzzzzz"`)
	f.Add([]byte(`{"title":"x"}`), `"-zzzzzzzzzzzz"`)
	f.Add([]byte(`{"title":"x"}`), `*`)
	f.Add([]byte(`{"title":"x"}`), `abc`)
	s := newAPIServer(f)
	seedAPI(f, s)
	aliceRows := s.rowsOf(f, alice)
	f.Fuzz(func(t *testing.T, body []byte, ifMatch string) {
		if !validHeaderValue(ifMatch) {
			t.Skip("not a header value an HTTP client can send")
		}
		for _, id := range []string{bobTodo, aliceTodo} {
			before := s.snapshot(t)
			r := apiRequest{method: "PATCH", path: "/v1/todos/" + id, as: bob, body: string(body), contentType: "application/json"}
			if ifMatch != "" {
				r.header = map[string]string{"If-Match": ifMatch}
			}
			resp := s.do(t, r)
			if resp.Status >= 500 {
				t.Fatalf("status %d", resp.Status)
			}
			if resp.Status >= 400 && s.snapshot(t) != before {
				t.Fatalf("a %d changed the database", resp.Status)
			}
			if id == aliceTodo && resp.Status < 400 {
				t.Fatalf("bob patched alice's todo: %d", resp.Status)
			}
		}
		if s.rowsOf(t, alice) != aliceRows {
			t.Fatal("alice's todos changed")
		}
	})
}

// FuzzListTodos lists with arbitrary query parameters: never a 5xx, and
// every list holds only the caller's rows (checkAPIOwnership).
func FuzzListTodos(f *testing.F) {
	for _, q := range [][2]string{
		{"limit", "1"}, {"limit", "0"}, {"limit", "101"}, {"limit", "1e1"}, {"completed", "true"}, {"completed", "1"},
		{"cursor", "AQIAAAAAAAAAAAAAAAAAAEAAgAAAAAAAAAqAAAAAAAAAAA"}, {"cursor", "%%"}, {"user_id", bob}, {"", ""},
	} {
		f.Add(q[0], q[1], "limit", "2")
	}
	s := newAPIServer(f)
	seedAPI(f, s)
	seedManyTodos(f, s, alice, 5)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		q := url.Values{}
		q.Add(k1, v1)
		q.Add(k2, v2)
		resp := s.do(t, apiRequest{method: "GET", path: "/v1/todos?" + q.Encode(), as: alice})
		if resp.Status != 200 && resp.Status != 400 {
			t.Fatalf("GET /v1/todos?%s: %d", q.Encode(), resp.Status)
		}
	})
}

// validHeaderValue reports whether Go's HTTP client will send v as a
// header value (no control characters other than tab).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return strings.TrimSpace(v) == v
}
