package httpapi

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rowgate/rowgate/internal/todo"
)

var listParams = []string{"limit", "organization_id", "completed", "cursor"}

// parseListQuery reads
// ?limit=1..100&organization_id=…&completed=true|false&cursor=… strictly:
// an unknown or repeated parameter is a 400, so a typo such as
// ?complete=true fails loudly instead of returning an unfiltered list.
func parseListQuery(q url.Values) (todo.ListQuery, error) {
	lq := todo.ListQuery{Limit: todo.DefaultLimit}
	for key, vals := range q {
		if !contains(listParams, key) {
			return lq, errBadRequest("unknown_parameter", "Unknown query parameter "+quote(key)+"; allowed: limit, organization_id, completed, cursor.").withField(key, "unknown parameter")
		}
		if len(vals) > 1 {
			return lq, errBadRequest("invalid_parameter", "The parameter "+quote(key)+" is given more than once.").withField(key, "repeated")
		}
	}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > todo.MaxLimit || v[0] != strconv.Itoa(n) {
			return lq, errBadRequest("invalid_parameter", "limit must be an integer from 1 to 100.").withField("limit", "must be an integer from 1 to 100")
		}
		lq.Limit = n
	}
	if v, ok := q["organization_id"]; ok {
		if !todo.ValidOrganizationID(v[0]) {
			return lq, errBadRequest("invalid_parameter", "organization_id must be 1 to 255 characters, with no control characters.").withField("organization_id", "invalid")
		}
		lq.OrganizationID = &v[0]
	}
	if v, ok := q["completed"]; ok {
		switch v[0] {
		case "true", "false":
			b := v[0] == "true"
			lq.Completed = &b
		default:
			return lq, errBadRequest("invalid_parameter", "completed must be true or false.").withField("completed", "must be true or false")
		}
	}
	if v, ok := q["cursor"]; ok {
		c, err := decodeCursor(v[0], lq.Completed, lq.OrganizationID)
		if err != nil {
			return lq, errBadRequest("invalid_cursor", "The cursor is not one this API issued for this filter; start again without it.").withField("cursor", "invalid")
		}
		lq.After = &c
	}
	return lq, nil
}

// parseID accepts a todo id in canonical uuid form. Anything else names no
// todo, so it answers 404 like any other missing todo.
func parseID(s string) (string, error) {
	if len(s) != 36 {
		return "", errNotFound()
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return "", errNotFound()
	}
	return id.String(), nil
}

// etag is the todo's version as a strong entity tag: its updated_at in
// microseconds, base 36.
func etag(updated time.Time) string {
	return `"` + strconv.FormatInt(updated.UnixMicro(), 36) + `"`
}

// parseIfMatch returns the version a write is conditional on: nil for no
// header or `*`. A weak tag can never match strongly (RFC 9110 §13.1.1), and
// a well-formed tag this API did not issue matches nothing, so both yield a
// version no row has; a malformed header is a 400.
func parseIfMatch(h string) (*time.Time, error) {
	h = strings.TrimSpace(h)
	switch {
	case h == "" || h == "*":
		return nil, nil
	case strings.HasPrefix(h, "W/"):
		return never(), nil
	case len(h) < 3 || h[0] != '"' || h[len(h)-1] != '"' || strings.Contains(h, ","):
		return nil, errBadRequest("invalid_if_match", `If-Match must be one ETag as sent by this API, such as "abc123", or *.`)
	}
	micros, err := strconv.ParseInt(h[1:len(h)-1], 36, 64)
	if err != nil {
		return never(), nil
	}
	t := time.UnixMicro(micros)
	if t.Before(minVersion) || t.After(maxVersion) {
		return never(), nil // not a time this API could have issued
	}
	return &t, nil
}

// Versions are updated_at values, issued between minVersion and maxVersion.
var (
	minVersion = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxVersion = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// never is a version no row carries that PostgreSQL can still represent,
// so a condition on it fails cleanly (412 or 404) instead of overflowing.
func never() *time.Time {
	t := time.Date(1970, 1, 1, 0, 0, 0, 1000, time.UTC)
	return &t
}

// notModified reports whether If-None-Match lets a GET answer 304 (weak
// comparison, RFC 9110 §13.1.2).
func notModified(ifNoneMatch, current string) bool {
	for _, tag := range strings.Split(ifNoneMatch, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == current {
			return true
		}
	}
	return false
}
