package httpapi

import (
	"net/http"
	"strings"

	"github.com/rowgate/rowgate/internal/todo"
)

// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header-06): an Item
// Structured Field whose value is a String, such as
//
//	Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"
//
// A bare token without quotes, as many clients send, is accepted too.
const (
	headerIdempotencyKey = "Idempotency-Key"
	// headerIdempotentReplayed marks a response replayed for a retried key.
	headerIdempotentReplayed = "Idempotent-Replayed"
)

// idempotencyKey reads the request's key; keyed is false when it sent
// none. A malformed key, or more than one, is a 400.
func idempotencyKey(h http.Header) (key string, keyed bool, err error) {
	values := h.Values(headerIdempotencyKey)
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", false, errIdempotencyKey("Send one Idempotency-Key.")
	}
	key, ok := parseSFString(strings.TrimSpace(values[0]))
	if !ok || !todo.ValidIdempotencyKey(key) {
		return "", false, errIdempotencyKey(`Idempotency-Key must be a string of 1 to 255 printable ASCII characters, such as "8e03978e-40d5-43e8-bc93-6894a57f9324".`)
	}
	return key, true, nil
}

// parseSFString reads an RFC 8941 String ("…" with \" and \\ escapes), or
// a bare value with no quote, backslash or white space in it.
func parseSFString(v string) (string, bool) {
	if !strings.HasPrefix(v, `"`) {
		return v, v != "" && !strings.ContainsAny(v, "\"\\ \t,;")
	}
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\':
			if i+1 >= len(v) || (v[i+1] != '"' && v[i+1] != '\\') {
				return "", false
			}
			i++
			b.WriteByte(v[i])
		case c == '"':
			return b.String(), i == len(v)-1
		case c < 0x20 || c > 0x7e:
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return "", false // no closing quote
}

func errIdempotencyKey(detail string) *Problem {
	return errBadRequest("invalid_idempotency_key", detail).withField(headerIdempotencyKey, "invalid")
}
