// Package auth verifies the bearer tokens Better Auth issues and turns a
// verified token into a todo.Caller.
//
// Verification fails closed. A token is accepted only when all of these hold:
//
//   - it is a compact JWS of at most MaxTokenBytes, without "crit" or "b64"
//     headers;
//   - its "alg" is one of EdDSA, ES256, ES512, RS256, PS256 and equals the
//     algorithm of the key it names (never "none", never HMAC);
//   - the key comes from the configured JWKS, selected by "kid" (a token
//     without "kid" is accepted only when the set holds exactly one key);
//   - "exp" is present and, with the configured skew, not passed; "nbf" and
//     "iat", when present, are not in the future beyond the skew;
//   - "iss" and "aud" match exactly, unless explicitly opted out;
//   - "sub" is non-empty, valid UTF-8, at most todo.MaxUserIDLen characters
//     and free of control characters.
//
// The HTTP side is one Echo middleware that puts the Caller in the request
// context and returns an *Error the application's error handler maps to
// 401 with the header Challenge builds. DevKey mints tokens for development.
package auth
