package auth

import (
	"context"
	"fmt"
	"io"
	"os"
)

// keySource is where a Verifier gets its keys.
type keySource interface {
	// current returns the latest key set, or nil if none was ever loaded.
	current() *keySet
	// refresh re-reads the source if it can change and its rate limit
	// allows; afterwards current may return a newer set. It reports
	// whether looking again is worthwhile.
	refresh(ctx context.Context) bool
	// ready is nil once a key set has loaded, otherwise an error matching
	// ErrKeysUnavailable that says what loading waits for.
	ready() error
	// keyStats reports the source's state and counters.
	keyStats() KeyStats
	// close stops any background work.
	close()
}

// staticKeys is a JWKS read once from a file.
type staticKeys struct{ set *keySet }

func (s staticKeys) current() *keySet             { return s.set }
func (s staticKeys) refresh(context.Context) bool { return false }
func (s staticKeys) ready() error                 { return nil }
func (s staticKeys) keyStats() KeyStats           { return KeyStats{Loaded: true, Keys: len(s.set.all)} }
func (s staticKeys) close()                       {}

// loadKeyFile reads a JWKS file; any problem, including a set with no usable
// key, is an error, because a local file that is wrong stays wrong.
func loadKeyFile(cfg Config) (staticKeys, error) {
	f, err := os.Open(cfg.JWKSFile)
	if err != nil {
		return staticKeys{}, fmt.Errorf("auth: open JWKS file: %w", err)
	}
	defer f.Close()
	data, err := readBounded(f)
	if err != nil {
		return staticKeys{}, fmt.Errorf("auth: read JWKS file %s: %w", cfg.JWKSFile, err)
	}
	set, err := parseKeySet(data, cfg.Logger)
	if err != nil {
		return staticKeys{}, fmt.Errorf("%w (file %s)", err, cfg.JWKSFile)
	}
	cfg.Logger.Info("auth: JWKS loaded", "file", cfg.JWKSFile, "kids", set.kids())
	return staticKeys{set: set}, nil
}

// errJWKSTooLarge is readBounded's error for a document over maxJWKSBytes.
var errJWKSTooLarge = fmt.Errorf("JWKS larger than %d bytes", maxJWKSBytes)

// readBounded reads at most maxJWKSBytes; a longer document is
// errJWKSTooLarge.
func readBounded(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJWKSBytes {
		return nil, errJWKSTooLarge
	}
	return data, nil
}
