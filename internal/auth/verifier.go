package auth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/rowgate/rowgate/internal/todo"
)

// Verifier checks bearer tokens against a JWKS. It is safe for concurrent
// use. Call Close when done with a Verifier built on a JWKSURL.
type Verifier struct {
	keys     keySource
	cache    *tokenCache
	issuer   string
	audience string
	skew     time.Duration
	log      *slog.Logger
	now      func() time.Time
	provider jws.KeyProvider
}

// NewVerifier validates cfg and loads the keys once. It fails when cfg is
// incomplete (no issuer or audience without the explicit opt-out, not
// exactly one key source, a bad interval) or when JWKSFile cannot be read or
// holds no usable key.
//
// A JWKSURL that cannot be fetched at start is not an error: NewVerifier
// waits for the first fetch at most Config.RefreshWait, then returns while
// the fetch retries in the background (100 ms growing to 1 s between tries);
// until one succeeds every Verify fails with ErrKeysUnavailable and Ready
// says why. rowgate can thus start before the auth server without
// accepting anything it cannot check.
//
// ctx bounds only the wait for the first fetch; fetching runs until Close.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	return newVerifier(ctx, cfg, time.Now)
}

func newVerifier(ctx context.Context, cfg Config, now func() time.Time) (*Verifier, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	v := &Verifier{
		cache:    newTokenCache(cfg.CacheSize),
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		skew:     cfg.Skew,
		log:      cfg.Logger,
		now:      now,
	}
	v.provider = jws.KeyProviderFunc(v.fetchKeys)
	if cfg.JWKSFile != "" {
		if v.keys, err = loadKeyFile(cfg); err != nil {
			return nil, err
		}
		return v, nil
	}
	v.keys = startRemoteKeys(ctx, cfg, now)
	return v, nil
}

// Ready returns nil once a key set has loaded, so tokens can verify at all;
// it stays nil afterwards, whatever the JWKS endpoint does, because the last
// good set is kept. Before, it returns an error that matches
// ErrKeysUnavailable and names what loading waits for, as "signing keys
// (JWKS <URL without password>): <cause> (<n> failed attempts)". It suits a
// readiness probe.
func (v *Verifier) Ready() error { return v.keys.ready() }

// KeyStats reports the state of the verifier's keys and counts JWKS fetches
// and their failures, for metrics. It is cheap and safe to call at any
// time, also after Close.
func (v *Verifier) KeyStats() KeyStats { return v.keys.keyStats() }

// Close stops background JWKS refresh and waits for it to end. It is safe
// to call more than once; Verify keeps working with the last keys loaded.
func (v *Verifier) Close() { v.keys.close() }

// Verify returns the Caller of a valid token. Every failure returns an error
// that matches ErrInvalidToken (and, where it applies, ErrTokenExpired or
// ErrKeysUnavailable); the error never contains the token. Verify does not
// panic.
//
// A token that verified once is remembered (see Config.CacheSize) and
// accepted again without checking until its exp, with no skew. The one
// consequence: a token whose key is removed from the JWKS keeps working
// until its exp, which Better Auth's token lifetime bounds.
func (v *Verifier) Verify(ctx context.Context, token string) (caller todo.Caller, err error) {
	defer func() {
		if p := recover(); p != nil {
			v.log.Error("auth: panic while verifying a token", "panic", p, "stack", string(debug.Stack()))
			caller, err = todo.Caller{}, reject(errInternal)
		}
	}()
	if err := checkShape(token); err != nil {
		return todo.Caller{}, v.rejected(ctx, err)
	}
	key, now := cacheKey(token), v.now()
	if c, ok := v.cache.get(key, now); ok {
		return c, nil
	}
	c, exp, err := v.verify(ctx, token, now)
	if err != nil {
		return todo.Caller{}, v.rejected(ctx, err)
	}
	v.cache.put(key, c, exp)
	return c, nil
}

func (v *Verifier) rejected(ctx context.Context, reason error) error {
	v.log.DebugContext(ctx, "auth: token rejected", "reason", reason.Error())
	return reject(reason)
}

// checkShape accepts only a compact JWS of three non-empty base64url
// segments no longer than MaxTokenBytes.
func checkShape(token string) error {
	if len(token) > MaxTokenBytes {
		return errTooLarge
	}
	if strings.Count(token, ".") != 2 || strings.HasPrefix(token, ".") ||
		strings.HasSuffix(token, ".") || strings.Contains(token, "..") {
		return errMalformed
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; !(c == '.' || c == '-' || c == '_' || c >= '0' && c <= '9' ||
			c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return errMalformed
		}
	}
	return nil
}

// verify checks the signature with the key fetchKeys picks, then the claims.
func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (todo.Caller, time.Time, error) {
	payload, err := jws.Verify([]byte(token), jws.WithCompact(), jws.WithContext(ctx), jws.WithKeyProvider(v.provider))
	if err != nil {
		return todo.Caller{}, time.Time{}, classify(err)
	}
	tok := jwt.New()
	if err := json.Unmarshal(payload, tok); err != nil {
		return todo.Caller{}, time.Time{}, errMalformed
	}
	if err := v.checkClaims(tok, now); err != nil {
		return todo.Caller{}, time.Time{}, err
	}
	c, err := callerOf(tok)
	return c, tok.Expiration(), err
}

// classify maps a jws.Verify error to a reason: ours from fetchKeys, a
// signature mismatch, or anything else as malformed. jwx's own error text is
// dropped, as it may quote parts of the token.
func classify(err error) error {
	var r *reasonError
	switch {
	case errors.As(err, &r):
		return r
	case jws.IsVerificationError(err):
		return errSignature
	default:
		return errMalformed
	}
}

// fetchKeys is the jws.KeyProvider: it checks the protected header and hands
// jws.Verify exactly one key and the key's own algorithm. An unknown kid
// triggers one rate-limited JWKS refresh, waited for at most
// Config.RefreshWait; a kid still unknown after it is rejected.
func (v *Verifier) fetchKeys(ctx context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
	h := sig.ProtectedHeaders()
	alg := h.Algorithm()
	if !allowedAlg(alg) {
		return errAlgorithm
	}
	if _, b64 := h.Get("b64"); b64 || len(h.Critical()) > 0 {
		return errHeader
	}
	k, err := v.lookup(ctx, h.KeyID(), alg)
	if err != nil {
		return err
	}
	sink.Key(k.alg, k.pub)
	return nil
}

func (v *Verifier) lookup(ctx context.Context, kid string, alg jwa.SignatureAlgorithm) (verifyKey, error) {
	k, err := v.keys.current().find(kid, alg)
	if !errors.Is(err, errUnknownKey) && !errors.Is(err, ErrKeysUnavailable) {
		return k, err
	}
	if !v.keys.refresh(ctx) {
		return k, err
	}
	return v.keys.current().find(kid, alg)
}
