package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/rowgate/rowgate/internal/todo"
)

// File names LoadOrCreateDevKey uses inside its directory.
const (
	DevPrivateKeyFile = "dev-key.private.jwk.json"
	DevJWKSFile       = "dev-key.jwks.json"
)

// DevKey is a local Ed25519 signing key for development: `rowgate token`
// mints with it and `rowgate dev` verifies against its public JWKS. It is
// never needed in production, where Better Auth signs.
type DevKey struct {
	dir  string
	kid  string
	priv ed25519.PrivateKey
}

// LoadOrCreateDevKey returns the key stored in dir, creating dir (0700) and
// a new key when there is none. The private JWK is written once with mode
// 0600 and never overwritten; a private key file readable by group or
// others is refused. The public JWKS (0644) is rewritten on every call so
// it always matches. The kid is the key's RFC 7638 SHA-256 thumbprint.
func LoadOrCreateDevKey(dir string) (*DevKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: dev key dir: %w", err)
	}
	path := filepath.Join(dir, DevPrivateKeyFile)
	priv, err := readDevKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		priv, err = createDevKey(path)
	}
	if err != nil {
		return nil, err
	}
	k := &DevKey{dir: dir, priv: priv}
	if k.kid, err = thumbprint(priv.Public()); err != nil {
		return nil, err
	}
	if err := k.writeJWKS(); err != nil {
		return nil, err
	}
	return k, nil
}

// JWKSPath is the public JWKS file to pass as Config.JWKSFile.
func (k *DevKey) JWKSPath() string { return filepath.Join(k.dir, DevJWKSFile) }

// KeyID is the kid every token Mint signs carries.
func (k *DevKey) KeyID() string { return k.kid }

// Mint signs a token the way Better Auth does: EdDSA, a kid header and no
// typ header, with sub, iss, aud (as a string), iat and exp, plus email and
// name when set. An empty issuer or audience leaves that claim out. It
// fails when c.ID is not a valid user id or ttl is not positive.
func (k *DevKey) Mint(c todo.Caller, issuer, audience string, ttl time.Duration) (string, error) {
	return k.mint(c, issuer, audience, time.Now(), ttl)
}

type devClaims struct {
	Sub   string `json:"sub"`
	Iss   string `json:"iss,omitempty"`
	Aud   string `json:"aud,omitempty"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

func (k *DevKey) mint(c todo.Caller, issuer, audience string, now time.Time, ttl time.Duration) (string, error) {
	if !validText(c.ID, todo.MaxUserIDLen) {
		return "", errors.New("auth: mint: caller ID is empty, too long or has control characters")
	}
	if ttl <= 0 {
		return "", errors.New("auth: mint: ttl must be positive")
	}
	payload, err := json.Marshal(devClaims{
		Sub: c.ID, Iss: issuer, Aud: audience, Email: c.Email, Name: c.Name,
		Iat: now.Unix(), Exp: now.Add(ttl).Unix(),
	})
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, k.kid); err != nil {
		return "", err
	}
	signed, err := jws.Sign(payload, jws.WithKey(jwa.EdDSA, k.priv, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	return string(signed), nil
}

func readDevKey(path string) (ed25519.PrivateKey, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("auth: dev key %s is accessible to others (mode %v); chmod 600 it", path, info.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := jwk.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("auth: dev key %s: %w", path, err)
	}
	var priv ed25519.PrivateKey
	if err := key.Raw(&priv); err != nil {
		return nil, fmt.Errorf("auth: dev key %s is not an Ed25519 private key", path)
	}
	return priv, nil
}

// createDevKey writes a new key without ever replacing an existing file: it
// writes a temporary file and hard-links it into place. If another process
// won the race, its key is used.
func createDevKey(path string) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := jwk.FromRaw(priv)
	if err != nil {
		return nil, err
	}
	if err := describeKey(key, priv.Public()); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(key, "", "  ")
	if err != nil {
		return nil, err
	}
	tmp, err := writeTemp(filepath.Dir(path), data, 0o600)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return readDevKey(path)
	} else if err != nil {
		return nil, fmt.Errorf("auth: write dev key: %w", err)
	}
	return priv, nil
}

// writeJWKS (re)writes the public JWKS atomically.
func (k *DevKey) writeJWKS() error {
	key, err := jwk.FromRaw(k.priv.Public())
	if err != nil {
		return err
	}
	if err := describeKey(key, k.priv.Public()); err != nil {
		return err
	}
	set := jwk.NewSet()
	if err := set.AddKey(key); err != nil {
		return err
	}
	data, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := writeTemp(k.dir, data, 0o644)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, k.JWKSPath()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("auth: write dev JWKS: %w", err)
	}
	return nil
}

// describeKey sets kid (the thumbprint of pub), alg and use on key.
func describeKey(key jwk.Key, pub crypto.PublicKey) error {
	kid, err := thumbprint(pub)
	if err != nil {
		return err
	}
	for name, value := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.EdDSA, jwk.KeyUsageKey: jwk.ForSignature} {
		if err := key.Set(name, value); err != nil {
			return err
		}
	}
	return nil
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of pub, base64url encoded.
func thumbprint(pub crypto.PublicKey) (string, error) {
	key, err := jwk.FromRaw(pub)
	if err != nil {
		return "", err
	}
	sum, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

func writeTemp(dir string, data []byte, mode os.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, ".tmp-dev-key-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("auth: write %s: %w", dir, err)
	}
	return name, nil
}
