package auth

import (
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/rowgate/rowgate/internal/todo"
)

// Bounds on the optional profile claims; longer values are dropped, not
// rejected, because they only seed a new user's profile.
const (
	maxEmailLen = 320
	maxNameLen  = 200
)

// checkClaims applies the time, issuer and audience rules. The time rules
// are written out here rather than left to jwt.Validate, which skips an exp
// of 0 and truncates to whole seconds.
func (v *Verifier) checkClaims(tok jwt.Token, now time.Time) error {
	if _, ok := tok.Get(jwt.ExpirationKey); !ok {
		return errMissingExp
	}
	if !now.Before(tok.Expiration().Add(v.skew)) {
		return ErrTokenExpired
	}
	if _, ok := tok.Get(jwt.NotBeforeKey); ok && now.Add(v.skew).Before(tok.NotBefore()) {
		return errNotYetValid
	}
	if _, ok := tok.Get(jwt.IssuedAtKey); ok && now.Add(v.skew).Before(tok.IssuedAt()) {
		return errIssuedInFuture
	}
	if v.issuer != "" && tok.Issuer() != v.issuer {
		return errIssuer
	}
	if v.audience != "" && !slices.Contains(tok.Audience(), v.audience) {
		return errAudience
	}
	return nil
}

// callerOf builds the Caller of a token whose claims passed checkClaims.
func callerOf(tok jwt.Token) (todo.Caller, error) {
	sub := tok.Subject()
	if !validText(sub, todo.MaxUserIDLen) {
		return todo.Caller{}, errSubject
	}
	return todo.Caller{
		ID:    sub,
		Email: optionalClaim(tok, "email", maxEmailLen),
		Name:  optionalClaim(tok, "name", maxNameLen),
	}, nil
}

// optionalClaim returns a string claim that passes validText, or "".
func optionalClaim(tok jwt.Token, name string, maxLen int) string {
	raw, _ := tok.Get(name)
	s, _ := raw.(string)
	if !validText(s, maxLen) {
		return ""
	}
	return s
}

// validText reports whether s is non-empty valid UTF-8 of at most maxLen
// characters with no control characters.
func validText(s string, maxLen int) bool {
	if s == "" || len(s) > 4*maxLen || !utf8.ValidString(s) {
		return false
	}
	return utf8.RuneCountInString(s) <= maxLen && !strings.ContainsFunc(s, unicode.IsControl)
}
