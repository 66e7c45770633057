package auth

import "net/http"

// Known reports whether the request's bearer token already passed full
// verification and has not expired, without verifying it again: one
// SHA-256 of the token and a lookup in the verified-token cache. It is
// false for a missing or malformed Authorization header, for a token not
// seen (or no longer remembered), and always when the cache is off.
//
// A rate limit in front of the verifier uses it to let callers whose token
// is known through while it refuses unverified tokens from the same
// address; a true answer grants nothing by itself, since Middleware still
// verifies the token (from the same cache).
func (v *Verifier) Known(h http.Header) bool {
	token, err := bearerToken(h)
	if err != nil {
		return false
	}
	_, ok := v.cache.get(cacheKey(token), v.now())
	return ok
}
