package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rowgate/rowgate/internal/todo"
)

// checkClientProblem fails t unless err is answered as a client error:
// a 4xx problem with a code, whose body is valid JSON.
func checkClientProblem(t *testing.T, what string, err error) {
	t.Helper()
	p := toProblem(err)
	if p.Status < 400 || p.Status >= 500 || p.Code == "" || !json.Valid(p.body()) {
		t.Fatalf("%s: %v answers %d %q, want a 4xx problem", what, err, p.Status, p.Code)
	}
}

var bodySeeds = []string{
	``, ` `, `{}`, `{"title":"a"}`, `{"title":"a","description":null,"completed":true}`,
	`{"title":"a","title":"b"}`, `{"title":"a","\u0074itle":"b"}`, `{"user_id":"x"}`, `{"id":"x","title":"a"}`,
	`{"title":5}`, `{"title":null}`, `{"completed":"true"}`, `{"completed":1}`, `{"description":{}}`,
	`{"title":"a"} `, `{"title":"a"}{}`, `{"title":"a"} x`, `[]`, `null`, `"a"`, `1`, `true`,
	`{"title":"a",}`, `{"title"}`, `{"title":}`, `{`, `}`, `{"a":1`, `{"title":"\ud800"}`, "{\"title\":\"\xff\"}",
	"{\"\xff\":1}", `{"title":"a\u0000b"}`, `{"title":"` + strings.Repeat("x", 600) + `"}`,
	`{"title":` + strings.Repeat("[", 20000) + `}`, `{"title":1e999}`, `{"title":"a","name":"b"}`, `{"name":null}`,
	"\ufeff{}", "\x00", `{"title":"a"}` + "\x00", `{"title":"\u2028<&>"}`,
}

// FuzzParseBody throws arbitrary bytes at the strict body parser and the
// field readers behind it: no panic, and every refusal is a 4xx problem.
// What it accepts, encoding/json reads the same way.
func FuzzParseBody(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, allowed := range [][]string{newTodoFields, userPatchFields} {
			b, err := parseBody(raw, allowed)
			if err != nil {
				checkClientProblem(t, "parseBody", err)
				continue
			}
			agreesWithEncodingJSON(t, raw, b, allowed)
			if contains(allowed, "title") {
				if _, err := newTodoFrom(b); err != nil {
					checkClientProblem(t, "newTodoFrom", err)
				}
				if p, err := todoPatchFrom(b); err != nil {
					checkClientProblem(t, "todoPatchFrom", err)
				} else if p.Title != nil && strings.TrimSpace(*p.Title) == "" {
					t.Fatalf("todoPatchFrom accepted a blank title %q", *p.Title)
				}
				continue
			}
			if _, _, err := b.str("name", true); err != nil {
				checkClientProblem(t, "name", err)
			}
		}
	})
}

// agreesWithEncodingJSON checks a body parseBody accepted: encoding/json
// reads it as an object with the same keys and values, all allowed.
func agreesWithEncodingJSON(t *testing.T, raw []byte, b body, allowed []string) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		t.Fatalf("parseBody accepted %q; encoding/json: %v", raw, err)
	}
	if len(m) != len(b) {
		t.Fatalf("parseBody read %d keys of %q, encoding/json %d", len(b), raw, len(m))
	}
	for k, v := range b {
		if !contains(allowed, k) {
			t.Fatalf("parseBody accepted key %q, not in %v", k, allowed)
		}
		var x, y bytes.Buffer
		if json.Compact(&x, v) != nil || json.Compact(&y, m[k]) != nil || !bytes.Equal(x.Bytes(), y.Bytes()) {
			t.Fatalf("key %q: parseBody read %s, encoding/json %s", k, v, m[k])
		}
	}
}

func filterOf(n uint8) *bool {
	switch n % 3 {
	case 1:
		v := false
		return &v
	case 2:
		v := true
		return &v
	}
	return nil
}

// orgOf names the organization filter of a fuzzed filter byte: none, or
// one of two organizations, so that n%9 covers every pair of filters.
func orgOf(n uint8) *string {
	switch n / 3 % 3 {
	case 1:
		v := "org-a"
		return &v
	case 2:
		v := "org-b"
		return &v
	}
	return nil
}

var cursorSeeds = func() []string {
	c := todo.Cursor{CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), ID: "00000000-0000-4000-8000-00000000000a"}
	good := encodeCursor(c, nil, nil)
	return []string{
		good, encodeCursor(c, filterOf(1), nil), encodeCursor(c, filterOf(2), nil), good[:len(good)-1], good + "A",
		encodeCursor(c, nil, orgOf(3)), encodeCursor(c, filterOf(1), orgOf(6)),
		strings.Repeat("A", len(good)), strings.Repeat("_", len(good)), "", "AAAA", good + "==",
		base64.StdEncoding.EncodeToString([]byte(good)), "\xff" + good[1:],
	}
}()

// FuzzDecodeCursor feeds arbitrary strings to the cursor decoder: no
// panic; a refusal is errBadCursor; what it accepts is a position the API
// can issue again, tied to its filters (completed and organization).
func FuzzDecodeCursor(f *testing.F) {
	for i, s := range cursorSeeds {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, s string, filter uint8) {
		completed, org := filterOf(filter), orgOf(filter)
		c, err := decodeCursor(s, completed, org)
		if err != nil {
			if !errors.Is(err, errBadCursor) {
				t.Fatalf("decodeCursor(%q): %v", s, err)
			}
			return
		}
		if _, err := uuid.Parse(c.ID); err != nil || c.CreatedAt.Location() != time.UTC {
			t.Fatalf("decodeCursor(%q) = %+v", s, c)
		}
		again, err := decodeCursor(encodeCursor(c, completed, org), completed, org)
		if err != nil || again != c {
			t.Fatalf("re-encoding %+v decodes to %+v, %v", c, again, err)
		}
		for other := uint8(0); other < 9; other++ {
			if other != filter%9 {
				if _, err := decodeCursor(s, filterOf(other), orgOf(other)); err == nil {
					t.Fatalf("cursor %q decodes under another filter", s)
				}
			}
		}
	})
}

// FuzzCursorRoundTrip encodes arbitrary positions: the cursor is URL-safe
// and decodes to the same position under its own filter only.
func FuzzCursorRoundTrip(f *testing.F) {
	f.Add(int64(0), []byte("0123456789abcdef"), uint8(0))
	f.Add(int64(-1), []byte{}, uint8(1))
	f.Add(int64(1<<62), []byte{0xff}, uint8(2))
	f.Add(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), bytes.Repeat([]byte{0xaa}, 20), uint8(5))
	f.Fuzz(func(t *testing.T, micros int64, idBytes []byte, filter uint8) {
		var id uuid.UUID
		copy(id[:], idBytes)
		c := todo.Cursor{CreatedAt: time.UnixMicro(micros).UTC(), ID: id.String()}
		s := encodeCursor(c, filterOf(filter), orgOf(filter))
		if url.QueryEscape(s) != s {
			t.Fatalf("cursor %q needs escaping in a URL", s)
		}
		got, err := decodeCursor(s, filterOf(filter), orgOf(filter))
		if err != nil || got != c {
			t.Fatalf("round trip of %+v: %+v, %v", c, got, err)
		}
		if _, err := decodeCursor(s, filterOf(filter%3+1), orgOf(filter)); err == nil {
			t.Fatal("the cursor decodes under another completed filter")
		}
		if _, err := decodeCursor(s, filterOf(filter), orgOf(filter+3)); err == nil {
			t.Fatal("the cursor decodes under another organization")
		}
	})
}

// FuzzParseListQuery parses arbitrary query strings: no panic, refusals
// are 4xx problems, and what is accepted is in range and says what the
// query said.
func FuzzParseListQuery(f *testing.F) {
	cur := url.QueryEscape(cursorSeeds[0])
	for _, s := range []string{
		"", "limit=1", "limit=100", "limit=0", "limit=101", "limit=-1", "limit=01", "limit=+1", "limit=1e2",
		"limit=99999999999999999999", "limit=1&limit=1", "completed=true", "completed=false", "completed=TRUE",
		"completed=", "cursor=" + cur, "cursor=" + cur + "&completed=true", "cursor=", "complete=true", "user_id=x",
		"limit=5&completed=false&cursor=" + cur, "%zz", "limit=%00", "a=1&a=2", ";", "limit=1;completed=true",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // Echo ignores the error the same way
		lq, err := parseListQuery(q)
		if err != nil {
			checkClientProblem(t, "parseListQuery", err)
			return
		}
		if lq.Limit < 1 || lq.Limit > todo.MaxLimit {
			t.Fatalf("?%s: limit %d", raw, lq.Limit)
		}
		if v, ok := q["limit"]; ok && strconv.Itoa(lq.Limit) != v[0] {
			t.Fatalf("?%s: limit %d", raw, lq.Limit)
		}
		if _, ok := q["limit"]; !ok && lq.Limit != todo.DefaultLimit {
			t.Fatalf("?%s: limit %d without a limit parameter", raw, lq.Limit)
		}
		if v, ok := q["completed"]; (lq.Completed != nil) != ok || (ok && strconv.FormatBool(*lq.Completed) != v[0]) {
			t.Fatalf("?%s: completed %v", raw, lq.Completed)
		}
		if _, ok := q["cursor"]; (lq.After != nil) != ok {
			t.Fatalf("?%s: after %v", raw, lq.After)
		}
		for k := range q {
			if !contains(listParams, k) {
				t.Fatalf("?%s: accepted parameter %q", raw, k)
			}
		}
	})
}

// minPGMicros is PostgreSQL's earliest timestamptz, 4714-11-24 00:00 UTC
// BC, in microseconds since 1970. A version the store sends PostgreSQL must
// not be earlier, or the statement fails (22008) instead of matching
// nothing. Every int64 count of microseconds after it is in range.
const minPGMicros = -210866803200000000

// FuzzParseIfMatch parses arbitrary If-Match values: no panic; a refusal
// is a 400 invalid_if_match; a version is one PostgreSQL can compare.
//
// It guards a bug it found: weak tags, tags that are not base 36 and tags
// before 4714 BC used to yield time.UnixMicro(-1 << 62), out of
// PostgreSQL's range, so the conditional write failed with SQLSTATE 22008
// and answered 500.
func FuzzParseIfMatch(f *testing.F) {
	now := etag(time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC))
	for _, s := range []string{
		"", " ", "*", " * ", now, " " + now + " ", "W/" + now, `W/"0"`, `"0"`, `""`, `"`, `"a`, `a"`, "abc",
		`"a","b"`, `"a", "b"`, `"!!"`, `"zzzzzzzzzzzzz"`, `"-zzzzzzzzzzzz"`, `"1y2p0ij32e8e7"`, `"-1y2p0ij32e8e8"`,
		`"-1loa1k2lreo0"`, `"-1loa1k2lreo1"`, `"\"`, "\"\xff\"", "\"0\"\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		v, err := parseIfMatch(h)
		if err != nil {
			checkClientProblem(t, "parseIfMatch", err)
			if toProblem(err).Code != "invalid_if_match" || toProblem(err).Status != 400 {
				t.Fatalf("If-Match %q: %v", h, err)
			}
			return
		}
		trimmed := strings.TrimSpace(h)
		if (v == nil) != (trimmed == "" || trimmed == "*") {
			t.Fatalf("If-Match %q: version %v", h, v)
		}
		if v != nil && v.UnixMicro() < minPGMicros {
			t.Fatalf("If-Match %q: version %v is before PostgreSQL's earliest timestamptz", h, v)
		}
	})
}

// Versions a row can carry: updated_at is set by the database clock.
var (
	firstVersion = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	lastVersion  = time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC).UnixMicro()
)

// FuzzETagRoundTrip: the ETag of any version a row can have parses back to
// that version, and If-None-Match with it (strong or weak) is a match.
func FuzzETagRoundTrip(f *testing.F) {
	f.Add(firstVersion)
	f.Add(lastVersion)
	f.Add(time.Now().UnixMicro())
	f.Add(time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC).UnixMicro())
	f.Fuzz(func(t *testing.T, micros int64) {
		if micros < firstVersion || micros > lastVersion {
			t.Skip("no row has such a version")
		}
		tag := etag(time.UnixMicro(micros))
		v, err := parseIfMatch(tag)
		if err != nil || v == nil || v.UnixMicro() != micros {
			t.Fatalf("etag %s of %d parses to %v, %v", tag, micros, v, err)
		}
		if !notModified(tag, tag) || !notModified("W/"+tag, tag) || !notModified(`"x", `+tag, tag) || notModified(`"!"`, tag) {
			t.Fatalf("If-None-Match comparisons with %s", tag)
		}
	})
}

// TestCursorRejectsEveryEdit changes each character of a cursor to every
// other base64url character: cursor.go promises an edited cursor is a 400.
//
// BUG (reported, fails until fixed): the last character carries 4 unused
// bits, and non-strict base64 ignores them, so 15 edits of it decode to the
// same position and are accepted. Harmless (the same page), but not what
// the comment says; decoding with base64.RawURLEncoding.Strict() fixes it.
func TestCursorRejectsEveryEdit(t *testing.T) {
	t.Parallel()
	c := todo.Cursor{CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ID: "00000000-0000-4000-8000-00000000000a"}
	for _, completed := range []*bool{filterOf(0), filterOf(1), filterOf(2)} {
		s := encodeCursor(c, completed, nil)
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		for i := range s {
			for _, r := range alphabet {
				if e := s[:i] + string(r) + s[i+1:]; e != s {
					if _, err := decodeCursor(e, completed, nil); err == nil {
						t.Fatalf("cursor %s edited at %d to %s is accepted", s, i, e)
					}
				}
			}
		}
	}
}
