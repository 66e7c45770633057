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
// Keys from a JWKS URL outlive the auth server's outages. Once a set has
// loaded, an endpoint that refuses, hangs, answers 5xx or garbage changes
// nothing for tokens whose kid is known: the last good set stays until a
// fetch brings a usable one. A token with an unknown kid asks for a fetch,
// rate limited to one per Config.MinRefreshInterval, and waits for it at
// most Config.RefreshWait before it is rejected; each fetch is bounded by
// Config.FetchTimeout. Failed fetches are retried in the background with
// capped, jittered backoff (Config.MaxRetryInterval), and before the first
// set loads with a backoff from 100 ms to 1 s, so rowgate can start before
// the auth server. Verifier.Ready says what loading waits for and
// Verifier.KeyStats counts fetches and failures for metrics.
//
// The HTTP side is one Echo middleware that puts the Caller in the request
// context and returns an *Error the application's error handler maps to
// 401 with the header Challenge builds. DevKey mints tokens for development.
package auth
