package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// body is a JSON object read strictly: one object, no duplicate or unknown
// keys, nothing after it. Values stay raw until a field asks for its type,
// so an absent field and an explicit null stay different.
type body map[string]json.RawMessage

// readBody reads the request body as a JSON object with only the allowed
// keys. mediaTypes lists the accepted Content-Types.
func readBody(c echo.Context, allowed []string, mediaTypes ...string) (body, error) {
	if err := checkContentType(c.Request(), mediaTypes); err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(c.Request().Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, errTooLarge()
	case err != nil:
		return nil, errBadRequest("unreadable_body", "The request body could not be read.").withCause(err)
	}
	return parseBody(raw, allowed)
}

func checkContentType(r *http.Request, accepted []string) *Problem {
	mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err == nil {
		for _, a := range accepted {
			if mt == a {
				return nil
			}
		}
	}
	return problem(http.StatusUnsupportedMediaType, "unsupported_media_type",
		"Send the body as "+strings.Join(accepted, " or ")+".")
}

// parseBody does the strict parse; it is separate from readBody so that it
// can be fuzzed without HTTP.
func parseBody(raw []byte, allowed []string) (body, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, errBadRequest("empty_body", "The request body is empty; send a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, malformed(err, "The request body must be a JSON object.")
	}
	b := body{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed(err, "")
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, malformed(err, "")
		}
		if _, dup := b[key]; dup {
			return nil, errBadRequest("duplicate_field", "The field "+quote(key)+" appears more than once.").withField(key, "duplicate")
		}
		if !contains(allowed, key) {
			return nil, unknownField(key, allowed)
		}
		b[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, malformed(err, "")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errBadRequest("malformed_json", "The request body has data after the JSON object.")
	}
	return b, nil
}

func malformed(err error, detail string) *Problem {
	if detail == "" {
		detail = "The request body is not valid JSON."
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		detail = "The request body is not valid JSON: " + syn.Error() + "."
	}
	return errBadRequest("malformed_json", detail)
}

func unknownField(key string, allowed []string) *Problem {
	detail := "Unknown field " + quote(key) + "; allowed: " + strings.Join(allowed, ", ") + "."
	if key == "user_id" || key == "id" {
		detail = "The field " + quote(key) + " cannot be set: ownership and ids come only from the server and the token."
	}
	return errBadRequest("unknown_field", detail).withField(key, "unknown field")
}

// str reads an optional string field. present reports whether the key was
// given; a JSON null is present with a nil value when nullable.
func (b body) str(key string, nullable bool) (value *string, present bool, err error) {
	raw, ok := b[key]
	if !ok {
		return nil, false, nil
	}
	if string(raw) == "null" {
		if nullable {
			return nil, true, nil
		}
		return nil, true, wrongType(key, "a string")
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		want := "a string"
		if nullable {
			want = "a string or null"
		}
		return nil, true, wrongType(key, want)
	}
	return &s, true, nil
}

// boolean reads an optional boolean field; null is a type error.
func (b body) boolean(key string) (value *bool, err error) {
	raw, ok := b[key]
	if !ok {
		return nil, nil
	}
	switch string(raw) {
	case "true":
		v := true
		return &v, nil
	case "false":
		v := false
		return &v, nil
	}
	return nil, wrongType(key, "true or false")
}

func wrongType(key, want string) *Problem {
	return errBadRequest("invalid_type", "The field "+quote(key)+" must be "+want+".").withField(key, "must be "+want)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// quote renders a client-supplied name for a message, cut to 64 bytes.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return string(appendString(nil, s))
}
