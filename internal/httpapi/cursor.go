package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/rowgate/rowgate/internal/todo"
)

// A cursor is opaque to clients: base64url of
//
//	version(1) | filter(1) | created_at µs (8, big endian) | id (16) | check (8)
//
// The check is a keyed hash, so an edited or truncated cursor is rejected
// with 400 rather than silently paging from somewhere else. It is an
// integrity check, not a secret: a cursor grants nothing, since row level
// security decides what any page can contain. The filter byte ties a cursor
// to the `completed` filter it was issued for; the organization_id filter,
// when there is one, is hashed into the check without being carried, so a
// cursor of one list is refused by every other (personal lists hash
// nothing more, so their cursors are those issued before organizations).
const (
	cursorVersion = 1
	cursorLen     = 1 + 1 + 8 + 16 + 8
)

var cursorKey = []byte("rowgate cursor v1")

var errBadCursor = errors.New("invalid cursor")

func filterByte(completed *bool) byte {
	switch {
	case completed == nil:
		return 0
	case *completed:
		return 2
	}
	return 1
}

func encodeCursor(c todo.Cursor, completed *bool, org *string) string {
	id, err := uuid.Parse(c.ID)
	if err != nil {
		// Ids come from the database; this cannot happen.
		panic("httpapi: cursor id is not a uuid: " + c.ID)
	}
	var b [cursorLen]byte
	b[0], b[1] = cursorVersion, filterByte(completed)
	binary.BigEndian.PutUint64(b[2:10], uint64(c.CreatedAt.UnixMicro()))
	copy(b[10:26], id[:])
	copy(b[26:], cursorCheck(b[:26], org))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decodeCursor returns errBadCursor for anything it did not issue, and for
// a cursor issued under another completed or organization_id filter.
func decodeCursor(s string, completed *bool, org *string) (todo.Cursor, error) {
	if len(s) != base64.RawURLEncoding.EncodedLen(cursorLen) {
		return todo.Cursor{}, errBadCursor
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != cursorLen || b[0] != cursorVersion {
		return todo.Cursor{}, errBadCursor
	}
	if !hmac.Equal(b[26:], cursorCheck(b[:26], org)) || b[1] != filterByte(completed) {
		return todo.Cursor{}, errBadCursor
	}
	id, _ := uuid.FromBytes(b[10:26])
	micros := int64(binary.BigEndian.Uint64(b[2:10]))
	return todo.Cursor{CreatedAt: time.UnixMicro(micros).UTC(), ID: id.String()}, nil
}

// cursorCheck hashes the fixed-size part of a cursor and, for an
// organization's list, the organization's id after it.
func cursorCheck(b []byte, org *string) []byte {
	h := hmac.New(sha256.New, cursorKey)
	h.Write(b)
	if org != nil {
		h.Write([]byte(*org))
	}
	return h.Sum(nil)[:8]
}
