package auth

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// idp is a JWKS endpoint whose behaviour a test switches: answer with a
// status and body, hang until the client gives up, or (in memory only)
// refuse the connection. It is an http.Handler for a real listener
// (realIdP) and an http.RoundTripper that serves in memory, for synctest
// bubbles, where network I/O would stop fake time.
type idp struct {
	hits   atomic.Int64 // requests that reached the endpoint
	mu     sync.Mutex
	status int
	body   []byte
	hang   bool
	refuse bool
	quit   chan struct{} // closed at cleanup: hanging handlers return
}

func newIdP(t *testing.T, body []byte) *idp {
	p := &idp{status: http.StatusOK, body: body, quit: make(chan struct{})}
	t.Cleanup(func() { close(p.quit) })
	return p
}

// serve makes the endpoint answer status and body.
func (p *idp) serve(status int, body []byte) { p.setMode(status, body, false, false) }

// hangUp makes the endpoint accept requests and never answer.
func (p *idp) hangUp() { p.setMode(0, nil, true, false) }

// refuseConns makes RoundTrip fail as a refused connection does; for a
// realIdP, stop the listener instead.
func (p *idp) refuseConns() { p.setMode(0, nil, false, true) }

func (p *idp) setMode(status int, body []byte, hang, refuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status, p.body, p.hang, p.refuse = status, body, hang, refuse
}

func (p *idp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.hits.Add(1)
	p.mu.Lock()
	status, body, hang := p.status, p.body, p.hang
	p.mu.Unlock()
	if hang {
		select {
		case <-r.Context().Done():
		case <-p.quit:
		}
		return
	}
	w.WriteHeader(status)
	w.Write(body)
}

func (p *idp) RoundTrip(r *http.Request) (*http.Response, error) {
	p.mu.Lock()
	refuse := p.refuse
	p.mu.Unlock()
	if refuse {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// bubbleURL is the JWKS URL of in-memory endpoints; nothing resolves it.
const bubbleURL = "https://idp.example/api/auth/jwks"

// bubbleVerifier builds a Verifier over p in memory, on the time package's
// clock. Call it inside a synctest bubble. The token cache is off, so every
// Verify looks the key up.
func bubbleVerifier(t *testing.T, p *idp, edit func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{
		JWKSURL: bubbleURL, Issuer: testIssuer, Audience: testAudience, CacheSize: -1,
		HTTPClient: &http.Client{Transport: p},
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := newVerifier(context.Background(), cfg, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// realIdP serves an idp on a real TCP listener that a test can stop (the
// port then refuses connections) and start again on the same port.
type realIdP struct {
	*idp
	addr   string
	URL    string
	srv    *http.Server
	served chan struct{}
}

func startRealIdP(t *testing.T, p *idp) *realIdP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &realIdP{idp: p, addr: ln.Addr().String()}
	s.URL = "http://" + s.addr + "/api/auth/jwks"
	s.serveOn(ln)
	t.Cleanup(s.stop)
	return s
}

func (s *realIdP) serveOn(ln net.Listener) {
	s.srv = &http.Server{Handler: s.idp, ReadHeaderTimeout: 5 * time.Second}
	s.served = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		srv.Serve(ln)
	}(s.srv, s.served)
}

// stop closes the listener and every connection; the port then refuses.
// It is safe to call more than once.
func (s *realIdP) stop() {
	if s.srv == nil {
		return
	}
	s.srv.Close()
	<-s.served
	s.srv = nil
}

// restart listens on the same port again. Another process could take the
// port meanwhile; restart retries for a few seconds, then fails the test.
func (s *realIdP) restart(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", s.addr)
		if err == nil {
			s.serveOn(ln)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen again on %s: %v", s.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor polls cond every few milliseconds for at most limit and reports
// how long it took to hold; it fails the test if it never did.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// logRecorder is a slog.Handler that keeps every record, for tests that
// count what was logged.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}

// count returns how many records at level have a message starting with
// prefix.
func (l *logRecorder) count(level slog.Level, prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level == level && strings.HasPrefix(r.Message, prefix) {
			n++
		}
	}
	return n
}

// unknownKid is a token signed by k but naming a kid no JWKS holds.
func unknownKid(t *testing.T, k testKey, kid string) string {
	t.Helper()
	return signJWT(t, map[string]any{"alg": k.alg, "kid": kid}, claims(time.Now()), k.alg, k.priv)
}

// mustVerify fails the test unless token verifies.
func mustVerify(t *testing.T, v *Verifier, token, what string) {
	t.Helper()
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// isUnknownKid reports whether err is the invalid-token error for an
// unknown kid (what the middleware answers 401 for).
func isUnknownKid(err error) bool {
	return errors.Is(err, ErrInvalidToken) && errors.Is(err, errUnknownKey) && !errors.Is(err, ErrKeysUnavailable)
}
