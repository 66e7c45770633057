package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
)

// KeyStats is a snapshot of where a Verifier's keys stand, for metrics and
// readiness. Counters only grow while the Verifier lives.
type KeyStats struct {
	// Remote is true when the keys come from a JWKS URL. For a JWKS file
	// every fetch field stays zero.
	Remote bool
	// Loaded is true once a key set has loaded; it never turns false again,
	// since a failed fetch keeps the previous set.
	Loaded bool
	// Keys is the number of usable keys in the current set.
	Keys int
	// Fetches counts JWKS fetch attempts started.
	Fetches uint64
	// Failures counts failed attempts by cause; their sum is the number of
	// failed attempts.
	Failures FetchFailures
	// ConsecutiveFailures is the number of failed attempts since the last
	// success (or since start): 0 means the endpoint works.
	ConsecutiveFailures int
	// LastSuccess and LastFailure are when the latest successful and failed
	// attempts ended; zero if there was none.
	LastSuccess, LastFailure time.Time
}

// FetchFailures counts failed JWKS fetches by cause.
type FetchFailures struct {
	// Network: the connection could not be made or broke (refused, reset,
	// DNS, TLS).
	Network uint64
	// Timeout: no complete answer within Config.FetchTimeout (a hanging or
	// black-holed endpoint).
	Timeout uint64
	// Status: the endpoint answered with a status other than 200.
	Status uint64
	// Parse: a 200 whose body is not a JWKS with at least one usable key
	// (not JSON, empty, too large, or only keys rowgate refuses).
	Parse uint64
}

// failureClass is the cause of a failed fetch, as counted in FetchFailures.
type failureClass int

const (
	failNetwork failureClass = iota
	failTimeout
	failStatus
	failParse
)

func (c failureClass) String() string {
	return [...]string{"network", "timeout", "status", "parse"}[c]
}

func (f *FetchFailures) add(c failureClass) {
	switch c {
	case failNetwork:
		f.Network++
	case failTimeout:
		f.Timeout++
	case failStatus:
		f.Status++
	case failParse:
		f.Parse++
	}
}

// fetchError is why one JWKS fetch failed. Its text names the class and the
// cause without the URL (which the caller adds, redacted).
type fetchError struct {
	class failureClass
	err   error
}

func (e *fetchError) Error() string { return e.class.String() + ": " + e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// transportFailure classifies an error from sending the request or reading
// the body. *url.Error is unwrapped, as it repeats the URL.
func transportFailure(err error, timeout time.Duration) *fetchError {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &fetchError{failTimeout, fmt.Errorf("no complete answer within %s", timeout)}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &fetchError{failNetwork, err}
}

// keysNotReadyError is what Ready returns while no key set has loaded.
type keysNotReadyError struct{ url, reason string }

func (e *keysNotReadyError) Error() string {
	return "signing keys (JWKS " + e.url + "): " + e.reason
}

// Unwrap makes the error match ErrKeysUnavailable.
func (e *keysNotReadyError) Unwrap() error { return ErrKeysUnavailable }
