package todo

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"
)

// Idempotency keys (draft-ietf-httpapi-idempotency-key-header): a key names
// one logical create, so that a client can retry it safely.
const (
	// MaxIdempotencyKeyLen bounds a key, in characters (printable ASCII).
	MaxIdempotencyKeyLen = 255
	// DefaultIdempotencyKeyTTL is how long a key is remembered.
	DefaultIdempotencyKeyTTL = 24 * time.Hour
)

// ErrKeyReused means an Idempotency-Key was used before by the same
// caller for a different request. Nothing was created.
var ErrKeyReused = errors.New("idempotency key already used for a different request")

// ValidIdempotencyKey reports whether key may name a create: 1 to
// MaxIdempotencyKeyLen printable ASCII characters.
func ValidIdempotencyKey(key string) bool {
	if len(key) == 0 || len(key) > MaxIdempotencyKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// Fingerprint identifies the request a key was first used for: the same
// logical create gives the same fingerprint however its JSON was written.
func (n NewTodo) Fingerprint() [sha256.Size]byte {
	h := sha256.New()
	field := func(present bool, s string) {
		var b [9]byte
		if present {
			b[0] = 1
		}
		binary.BigEndian.PutUint64(b[1:], uint64(len(s)))
		h.Write(b[:])
		h.Write([]byte(s))
	}
	field(true, "todo/v2") // bump when NewTodo gains a field
	field(true, n.Title)
	field(n.Description != nil, deref(n.Description))
	field(n.Completed, "")
	field(n.OrganizationID != nil, deref(n.OrganizationID))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
