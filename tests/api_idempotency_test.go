package tests

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// TestAPIIdempotencyKey: a keyed POST /v1/todos creates once. A retry with
// the same key and the same request (however its JSON is written) answers
// the original 201 (same id, body, Location), marked Idempotent-Replayed,
// and creates nothing; the same key with another body answers 422 and
// changes nothing; keys are per caller; a malformed key is a 400.
func TestAPIIdempotencyKey(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t)
	seedAPI(t, s)
	post := func(as, key, body string) apiResponse {
		return s.do(t, apiRequest{method: "POST", path: "/v1/todos", as: as, body: body,
			header: map[string]string{"Idempotency-Key": key}})
	}
	first := post(alice, `"order-42"`, `{"title":"buy milk","completed":false}`)
	if first.Status != 201 || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first keyed create: %d %s, Idempotent-Replayed %q", first.Status, first.Body, first.Header.Get("Idempotent-Replayed"))
	}
	created := apiDecode[apiTodo](t, first.Body)
	// The todo changes after the create; a retry still gets the original.
	if resp := s.do(t, apiRequest{method: "PATCH", path: "/v1/todos/" + created.ID, as: alice, body: `{"title":"buy oat milk"}`}); resp.Status != 200 {
		t.Fatalf("PATCH: %d", resp.Status)
	}
	before := s.snapshot(t)
	t.Run("RetryReplays", func(t *testing.T) {
		for _, r := range []struct{ key, body string }{
			{`"order-42"`, `{"title":"buy milk","completed":false}`},
			{`order-42`, `{ "completed" : false , "title" : "buy milk" }`}, // a bare token; the same logical body
		} {
			again := post(alice, r.key, r.body)
			if again.Status != 201 || !bytes.Equal(again.Body, first.Body) ||
				again.Header.Get("Location") != first.Header.Get("Location") || again.Header.Get("ETag") != first.Header.Get("ETag") ||
				again.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("retry %s: %d %s (Location %q, Idempotent-Replayed %q); want the first response %s",
					r.key, again.Status, again.Body, again.Header.Get("Location"), again.Header.Get("Idempotent-Replayed"), first.Body)
			}
		}
		if after := s.snapshot(t); after != before {
			t.Errorf("a replay changed the database")
		}
	})
	t.Run("ErrKeyReusedForAnotherBody", func(t *testing.T) {
		resp := post(alice, `"order-42"`, `{"title":"buy bread"}`)
		if resp.Status != 422 || resp.problem(t).Code != "idempotency_key_reused" {
			t.Errorf("same key, other body: %d %s", resp.Status, resp.Body)
		}
		if after := s.snapshot(t); after != before {
			t.Errorf("a reused key changed the database")
		}
	})
	t.Run("KeysArePerCaller", func(t *testing.T) {
		resp := post(bob, `"order-42"`, `{"title":"buy milk","completed":false}`)
		if resp.Status != 201 || resp.Header.Get("Idempotent-Replayed") != "" || apiDecode[apiTodo](t, resp.Body).UserID != bob {
			t.Errorf("bob's order-42: %d %s", resp.Status, resp.Body)
		}
	})
	t.Run("ErrMalformedKey", func(t *testing.T) {
		snap := s.snapshot(t)
		for _, key := range []string{`""`, `"unterminated`, `"caf` + "\u00e9" + `"`, `two words`, `"` + strings.Repeat("k", 256) + `"`, `"a"b"`, `"bad\escape"`} {
			resp := post(alice, key, `{"title":"x"}`)
			if resp.Status != 400 || resp.problem(t).Code != "invalid_idempotency_key" {
				t.Errorf("key %.40s: %d %s", key, resp.Status, resp.Body)
			}
		}
		twice := s.do(t, apiRequest{method: "POST", path: "/v1/todos", as: alice, body: `{"title":"x"}`,
			extra: http.Header{"Idempotency-Key": {`"a"`, `"b"`}}})
		if twice.Status != 400 {
			t.Errorf("two keys: %d %s", twice.Status, twice.Body)
		}
		if after := s.snapshot(t); after != snap {
			t.Errorf("a malformed key changed the database")
		}
	})
	t.Run("BadBodyWithKeyChangesNothing", func(t *testing.T) {
		snap := s.snapshot(t)
		if resp := post(alice, `"fresh"`, `{"title":""}`); resp.Status != 422 {
			t.Errorf("blank title with a key: %d", resp.Status)
		}
		if after := s.snapshot(t); after != snap || s.count(t, `select count(*) from idempotency_keys where key = 'fresh'`) != 0 {
			t.Errorf("a refused keyed create left a key or a row")
		}
	})
}
