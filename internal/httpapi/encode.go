package httpapi

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/rowgate/rowgate/internal/todo"
)

// The response bodies are written by hand: a list page is the hottest
// response, and appending into a pooled buffer costs a fraction of
// reflection-based encoding. encode_test.go checks the output against
// encoding/json for the same values.

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) {
	if cap(*b) <= 1<<20 {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

func appendTodo(b []byte, t *todo.Todo) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, t.ID)
	b = append(b, `,"user_id":`...)
	b = appendString(b, t.UserID)
	b = append(b, `,"organization_id":`...)
	b = appendNullableString(b, t.OrganizationID)
	b = append(b, `,"title":`...)
	b = appendString(b, t.Title)
	b = append(b, `,"description":`...)
	b = appendNullableString(b, t.Description)
	b = append(b, `,"completed":`...)
	b = strconv.AppendBool(b, t.Completed)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, t.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, t.UpdatedAt)
	return append(b, '}')
}

func appendPage(b []byte, p *todo.Page, q *todo.ListQuery) []byte {
	b = append(b, `{"items":[`...)
	for i := range p.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTodo(b, &p.Items[i])
	}
	b = append(b, `],"next_cursor":`...)
	if p.Next == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, encodeCursor(*p.Next, q.Completed, q.OrganizationID))
	}
	return append(b, '}')
}

func appendUser(b []byte, u *todo.User) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, u.ID)
	b = append(b, `,"email":`...)
	b = appendNullableString(b, u.Email)
	b = append(b, `,"name":`...)
	b = appendNullableString(b, u.Name)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, u.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, u.UpdatedAt)
	return append(b, '}')
}

// appendTime writes t in UTC as RFC 3339 with nanoseconds, trailing zeros
// trimmed (time.RFC3339Nano, as encoding/json writes it), by hand: the
// general formatter was a third of a list page's encoding time.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
	hour, min, sec := t.Clock()
	b = append(b, '"')
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, min, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	if ns := t.Nanosecond(); ns != 0 {
		b = append(b, '.')
		n := len(b)
		b = appendDigits(b, ns, 9)
		for b[len(b)-1] == '0' && len(b) > n {
			b = b[:len(b)-1]
		}
	}
	return append(b, 'Z', '"')
}

// appendDigits writes v in decimal, zero-padded to width digits, two
// digits at a time.
func appendDigits(b []byte, v, width int) []byte {
	var buf [10]byte
	i := len(buf)
	for v >= 10 || len(buf)-i < width-1 {
		d := v % 100 * 2
		v /= 100
		i -= 2
		buf[i], buf[i+1] = twoDigits[d], twoDigits[d+1]
	}
	if len(buf)-i < width {
		i--
		buf[i] = byte('0' + v)
	}
	return append(b, buf[len(buf)-width:]...)
}

const twoDigits = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

func appendNullableString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes a JSON string can carry as they are; the
// rest are escaped the way encoding/json escapes them.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString writes s as a JSON string, as encoding/json does: control
// characters, quotes, backslashes, <, >, & and U+2028/U+2029 escaped, and
// invalid UTF-8 replaced with U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// writeJSON sends a JSON body with its Content-Length, so net/http never
// switches to chunked encoding for bodies over 2 KiB (a list page is ~4).
func writeJSON(c echo.Context, status int, body []byte) error {
	h := c.Response().Header()
	h["Content-Type"] = []string{echo.MIMEApplicationJSON}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	c.Response().WriteHeader(status)
	_, err := c.Response().Write(body)
	return err
}
