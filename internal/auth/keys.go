package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// minRSABits is the smallest RSA modulus a JWKS key may have.
const minRSABits = 2048

// allowedAlg reports whether alg is one of the asymmetric algorithms rowgate
// accepts. "none" and every HMAC algorithm are absent on purpose.
func allowedAlg(alg jwa.SignatureAlgorithm) bool {
	switch alg {
	case jwa.EdDSA, jwa.ES256, jwa.ES512, jwa.RS256, jwa.PS256:
		return true
	}
	return false
}

// verifyKey is one usable public key with the single algorithm it verifies.
type verifyKey struct {
	kid string
	alg jwa.SignatureAlgorithm
	pub any // ed25519.PublicKey, *ecdsa.PublicKey or *rsa.PublicKey
}

// keySet is an immutable, indexed snapshot of the usable keys of a JWKS.
type keySet struct {
	all   []verifyKey
	byKID map[string][]verifyKey
}

// find returns the key a token with this kid and alg must verify against.
// A nil set means no JWKS was ever loaded.
func (s *keySet) find(kid string, alg jwa.SignatureAlgorithm) (verifyKey, error) {
	if s == nil {
		return verifyKey{}, ErrKeysUnavailable
	}
	candidates := s.byKID[kid]
	if kid == "" {
		if len(s.all) != 1 {
			return verifyKey{}, errKidRequired
		}
		candidates = s.all
	}
	if len(candidates) == 0 {
		return verifyKey{}, errUnknownKey
	}
	for _, k := range candidates {
		if k.alg == alg {
			return k, nil
		}
	}
	return verifyKey{}, errAlgMismatch
}

func (s *keySet) kids() string {
	ids := make([]string, 0, len(s.all))
	for _, k := range s.all {
		ids = append(ids, k.kid)
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

// parseKeySet parses a JWKS document and keeps the keys usableKey accepts.
// A set with no usable key is an error that says why the keys were refused
// (and nothing is logged, so a retry loop logs only its own state changes);
// otherwise each refused key is logged.
func parseKeySet(data []byte, log *slog.Logger) (*keySet, error) {
	set, err := jwk.Parse(data, jwk.WithIgnoreParseError(true))
	if err != nil {
		return nil, fmt.Errorf("auth: parse JWKS: %w", err)
	}
	s := &keySet{byKID: make(map[string][]verifyKey)}
	var skipped []string
	for i := range set.Len() {
		k, _ := set.Key(i)
		vk, err := usableKey(k)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("kid %q: %v", k.KeyID(), err))
			continue
		}
		s.all = append(s.all, vk)
		if vk.kid != "" {
			s.byKID[vk.kid] = append(s.byKID[vk.kid], vk)
		}
	}
	if len(s.all) == 0 {
		return nil, noUsableKey(skipped)
	}
	for _, reason := range skipped {
		log.Warn("auth: skipping JWKS key", slog.String("reason", reason))
	}
	return s, nil
}

// noUsableKey is the error for a set without a usable key, naming the
// reasons of at most three refused keys.
func noUsableKey(skipped []string) error {
	msg := "auth: JWKS holds no usable signature verification key"
	if len(skipped) > 3 {
		skipped = append(skipped[:3], fmt.Sprintf("%d more", len(skipped)-3))
	}
	if len(skipped) > 0 {
		msg += " (" + strings.Join(skipped, "; ") + ")"
	}
	return errors.New(msg)
}

// usableKey turns a JWK into a verifyKey, or says why it cannot be used.
//
// A key's algorithm is its "alg" member when present, which must be an
// allowed algorithm consistent with the key type and curve. Without "alg" it
// is inferred only where the key admits exactly one allowed algorithm:
// Ed25519 → EdDSA, P-256 → ES256, P-521 → ES512. An RSA key without "alg" is
// refused, because RS256 and PS256 would both fit and one key should never
// verify two algorithms.
func usableKey(k jwk.Key) (verifyKey, error) {
	if u := k.KeyUsage(); u != "" && u != string(jwk.ForSignature) {
		return verifyKey{}, fmt.Errorf("use is %q, not sig", u)
	}
	if ops := k.KeyOps(); len(ops) > 0 && !slices.Contains(ops, jwk.KeyOpVerify) {
		return verifyKey{}, errors.New("key_ops lacks verify")
	}
	pub, err := k.PublicKey()
	if err != nil {
		return verifyKey{}, err
	}
	inferred, raw, err := rawPublicKey(pub)
	if err != nil {
		return verifyKey{}, err
	}
	alg, err := keyAlgorithm(k.Algorithm().String(), inferred)
	if err != nil {
		return verifyKey{}, err
	}
	return verifyKey{kid: k.KeyID(), alg: alg, pub: raw}, nil
}

// keyAlgorithm reconciles the declared "alg" with what the key type allows.
// inferred lists the allowed algorithms the key type admits.
func keyAlgorithm(declared string, inferred []jwa.SignatureAlgorithm) (jwa.SignatureAlgorithm, error) {
	if declared == "" {
		if len(inferred) != 1 {
			return "", errors.New("no alg and the key type admits more than one")
		}
		return inferred[0], nil
	}
	alg := jwa.SignatureAlgorithm(declared)
	if !allowedAlg(alg) || !slices.Contains(inferred, alg) {
		return "", fmt.Errorf("alg %q not allowed for this key", declared)
	}
	return alg, nil
}

// rawPublicKey checks the key material (so that verification can never
// panic on it) and returns the algorithms its type admits.
func rawPublicKey(k jwk.Key) ([]jwa.SignatureAlgorithm, any, error) {
	switch k := k.(type) {
	case jwk.OKPPublicKey:
		if k.Crv() != jwa.Ed25519 || len(k.X()) != ed25519.PublicKeySize {
			return nil, nil, errors.New("OKP key is not a valid Ed25519 key")
		}
		return []jwa.SignatureAlgorithm{jwa.EdDSA}, ed25519.PublicKey(slices.Clone(k.X())), nil
	case jwk.ECDSAPublicKey:
		return ecdsaPublicKey(k)
	case jwk.RSAPublicKey:
		var pub rsa.PublicKey
		if err := k.Raw(&pub); err != nil {
			return nil, nil, err
		}
		if pub.N.BitLen() < minRSABits || pub.E < 3 || pub.E%2 == 0 {
			return nil, nil, errors.New("RSA key too short or with a bad exponent")
		}
		return []jwa.SignatureAlgorithm{jwa.RS256, jwa.PS256}, &pub, nil
	default:
		return nil, nil, fmt.Errorf("key type %q cannot verify an allowed algorithm", k.KeyType())
	}
}

func ecdsaPublicKey(k jwk.ECDSAPublicKey) ([]jwa.SignatureAlgorithm, any, error) {
	var alg jwa.SignatureAlgorithm
	switch k.Crv() {
	case jwa.P256:
		alg = jwa.ES256
	case jwa.P521:
		alg = jwa.ES512
	default:
		return nil, nil, fmt.Errorf("curve %q is not allowed", k.Crv())
	}
	var pub ecdsa.PublicKey
	if err := k.Raw(&pub); err != nil {
		return nil, nil, err
	}
	if _, err := pub.ECDH(); err != nil { // rejects points off the curve
		return nil, nil, errors.New("EC key is not a valid point")
	}
	return []jwa.SignatureAlgorithm{alg}, &pub, nil
}
