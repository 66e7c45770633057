package auth

import (
	"errors"
	"strings"
)

// Realm is the realm every WWW-Authenticate challenge names.
const Realm = "rowgate"

var (
	// ErrInvalidToken matches every error Verify returns, and every *Error
	// the middleware returns for a token that was presented but rejected.
	ErrInvalidToken = errors.New("invalid token")
	// ErrMissingToken matches the *Error the middleware returns when the
	// request carries no bearer token at all (no Authorization header, or a
	// scheme other than Bearer).
	ErrMissingToken = errors.New("missing bearer token")
	// ErrTokenExpired additionally matches a Verify error caused only by an
	// expired token, so a client can be told to refresh it.
	ErrTokenExpired error = &reasonError{"token expired"}
	// ErrKeysUnavailable additionally matches a Verify error caused by the
	// JWKS never having been loaded. It is a server-side condition; the error
	// handler may answer 503 for it instead of 401.
	ErrKeysUnavailable error = &reasonError{"signing keys unavailable"}
)

// reasonError is why a token was rejected. Its text is fixed: it never
// contains the token, a claim value or a key.
type reasonError struct{ msg string }

func (e *reasonError) Error() string { return e.msg }

var (
	errTooLarge       error = &reasonError{"token too large"}
	errMalformed      error = &reasonError{"malformed token"}
	errHeader         error = &reasonError{"unsupported token header"}
	errAlgorithm      error = &reasonError{"algorithm not allowed"}
	errAlgMismatch    error = &reasonError{"algorithm does not match the key"}
	errUnknownKey     error = &reasonError{"no key with the token's kid"}
	errKidRequired    error = &reasonError{"token has no kid and the key set has several keys"}
	errSignature      error = &reasonError{"signature does not verify"}
	errMissingExp     error = &reasonError{"exp claim missing"}
	errNotYetValid    error = &reasonError{"token not yet valid"}
	errIssuedInFuture error = &reasonError{"token issued in the future"}
	errIssuer         error = &reasonError{"issuer mismatch"}
	errAudience       error = &reasonError{"audience mismatch"}
	errSubject        error = &reasonError{"sub claim missing or invalid"}
	errInternal       error = &reasonError{"internal verification failure"}
)

// reject wraps a reason so that the result matches both ErrInvalidToken
// and the reason.
func reject(reason error) error {
	return &invalidTokenError{reason: reason}
}

type invalidTokenError struct{ reason error }

func (e *invalidTokenError) Error() string   { return "invalid token: " + e.reason.Error() }
func (e *invalidTokenError) Unwrap() []error { return []error{ErrInvalidToken, e.reason} }

// Error is what Middleware returns when it refuses a request. Err matches
// ErrMissingToken or ErrInvalidToken (and, through it, the reason Verify
// gave). Description is safe to show the client: it is one of a few fixed
// sentences and never contains the token.
type Error struct {
	Err         error
	Description string
}

// Error returns "auth: " and the text of Err, which never contains the token.
func (e *Error) Error() string { return "auth: " + e.Err.Error() }

// Unwrap returns Err, so errors.Is sees ErrMissingToken or ErrInvalidToken.
func (e *Error) Unwrap() error { return e.Err }

// Client-facing descriptions; all fit RFC 6750's error_description charset.
const (
	descMissing = "the request carries no bearer token"
	descExpired = "the access token expired"
	descInvalid = "the access token is invalid"
)

func newError(err error) *Error {
	switch {
	case errors.Is(err, ErrMissingToken):
		return &Error{Err: err, Description: descMissing}
	case errors.Is(err, ErrTokenExpired):
		return &Error{Err: err, Description: descExpired}
	default:
		return &Error{Err: err, Description: descInvalid}
	}
}

// Challenge returns the WWW-Authenticate header value for an auth error, per
// RFC 6750 §3: `Bearer realm="rowgate"` with no error code when no token was
// presented, `Bearer realm="rowgate", error="invalid_token",
// error_description="..."` when one was rejected, and "" when err is not an
// auth error (the caller then sends no challenge).
func Challenge(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrMissingToken):
		return `Bearer realm="` + Realm + `"`
	case errors.Is(err, ErrInvalidToken):
		desc := newError(err).Description
		var e *Error
		if errors.As(err, &e) && quotable(e.Description) {
			desc = e.Description
		}
		return `Bearer realm="` + Realm + `", error="invalid_token", error_description="` + desc + `"`
	default:
		return ""
	}
}

// quotable reports whether s fits RFC 6750's error_description charset
// (%x20-21 / %x23-5B / %x5D-7E), so it can be quoted without escaping.
func quotable(s string) bool {
	if s == "" {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x20 || r > 0x7e || r == '"' || r == '\\'
	})
}
