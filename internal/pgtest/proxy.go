package pgtest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of one server, which injects
// the faults a network or a dying server causes: connections reset
// mid-flight (ResetAll, Cut), a port that refuses connections (Refuse), a
// partition that delivers nothing (Blackhole), and latency. It forwards
// bytes and understands nothing of the protocol. Its methods are safe for
// concurrent use.
type Proxy struct {
	network, target string // where it forwards to
	addr            string // 127.0.0.1:port, kept across Refuse

	mu      sync.Mutex
	ln      net.Listener // nil while refusing or closed
	links   map[*link]struct{}
	held    chan struct{} // non-nil while blackholed; closed when lifted
	latency time.Duration
	cut     Cut
	closed  bool
	wg      sync.WaitGroup
}

// Cut is a one-shot fault Proxy.Cut arms for the next bytes on any of its
// connections.
type Cut int

const (
	// CutRequest resets the connection (RST to the client, the server's
	// side closed) instead of forwarding the next bytes a client sends: the
	// server never sees them, so it cannot have executed them.
	CutRequest Cut = iota + 1
	// CutReply forwards what clients send, but resets the connection
	// instead of forwarding the next bytes the server sends back: the
	// server did the work (a commit, say), the client never learns it.
	CutReply
)

// link is one proxied connection.
type link struct {
	client net.Conn
	mu     sync.Mutex
	server net.Conn // nil until dialled
	once   sync.Once
	done   chan struct{} // closed once both sides are closed
}

// StartProxy starts a Proxy in front of target (host:port, or the path of a
// unix socket such as DB.ServerAddr or devdb.Cluster.SocketPath) and closes
// it when t ends. Reach a database through it with DB.URLAt(p.Addr(), role).
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewProxy listens on a free port of 127.0.0.1 and forwards every
// connection to target (host:port, or a unix socket's path). Close it.
func NewProxy(target string) (*Proxy, error) {
	p := &Proxy{network: "tcp", target: target, links: map[*link]struct{}{}}
	if strings.HasPrefix(target, "/") {
		p.network = "unix"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("pgtest: proxy: %w", err)
	}
	p.addr = ln.Addr().String()
	p.serveOn(ln)
	return p, nil
}

// Addr is the proxy's address, 127.0.0.1:port. It stays the same across
// Refuse.
func (p *Proxy) Addr() string { return p.addr }

func (p *Proxy) serveOn(ln net.Listener) {
	p.ln = ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(c) }()
		}
	}()
}

// serve connects a client to the target and pipes both ways until either
// side closes or a fault ends the link.
func (p *Proxy) serve(client net.Conn) {
	l := &link{client: client, done: make(chan struct{})}
	if !p.track(l) {
		client.Close()
		return
	}
	defer p.untrack(l)
	if !p.pass(l) {
		return
	}
	server, err := net.Dial(p.network, p.target)
	if err != nil {
		l.close(true) // as a pooler does when its server is down
		return
	}
	if !l.setServer(server) {
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(l, client, server, CutRequest) })
	wg.Go(func() { p.pipe(l, server, client, CutReply) })
	wg.Wait()
}

// pipe copies src to dst chunk by chunk, applying the faults; cut is the
// Cut that applies in this direction.
func (p *Proxy) pipe(l *link, src, dst net.Conn, cut Cut) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.pass(l) || !p.delay(l) {
				return
			}
			if p.takeCut(cut) {
				l.close(true)
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				l.close(true)
				return
			}
		}
		if err != nil {
			l.close(errors.Is(err, syscall.ECONNRESET)) // pass a reset on as a reset
			return
		}
	}
}

// pass waits while the proxy is blackholed; false means l was closed.
func (p *Proxy) pass(l *link) bool {
	for {
		p.mu.Lock()
		held := p.held
		p.mu.Unlock()
		if held == nil {
			return true
		}
		select {
		case <-held:
		case <-l.done:
			return false
		}
	}
}

// delay waits the configured latency; false means l was closed.
func (p *Proxy) delay(l *link) bool {
	p.mu.Lock()
	d := p.latency
	p.mu.Unlock()
	if d <= 0 {
		return true
	}
	select {
	case <-time.After(d):
		return true
	case <-l.done:
		return false
	}
}

func (p *Proxy) takeCut(c Cut) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut != c {
		return false
	}
	p.cut = 0
	return true
}

func (p *Proxy) track(l *link) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.links[l] = struct{}{}
	return true
}

func (p *Proxy) untrack(l *link) {
	l.close(false)
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// setServer attaches the dialled server side; false if l closed meanwhile.
func (l *link) setServer(server net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		server.Close()
		return false
	default:
		l.server = server
		return true
	}
}

// close closes both sides once; with reset, the client (and a TCP server)
// get an RST instead of a FIN.
func (l *link) close(reset bool) {
	l.once.Do(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, c := range []net.Conn{l.client, l.server} {
			if c == nil {
				continue
			}
			if tc, ok := c.(*net.TCPConn); ok && reset {
				tc.SetLinger(0)
			}
			c.Close()
		}
		close(l.done)
	})
}

// Conns returns how many client connections the proxy holds now.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// ResetAll resets every connection it holds now, idle or busy: the client
// gets an RST ("connection reset by peer"), the server sees its client
// vanish. New connections are not affected. It returns how many it reset.
func (p *Proxy) ResetAll() int {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close(true)
	}
	return len(links)
}

// Refuse with on closes the listening socket, so new connections are
// refused (ECONNREFUSED) as if the server were down, while those already
// open go on; Refuse(false) listens on the same address again.
func (p *Proxy) Refuse(on bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return errors.New("pgtest: proxy closed")
	case on && p.ln != nil:
		p.ln.Close()
		p.ln = nil
	case !on && p.ln == nil:
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("pgtest: proxy: listen again on %s: %w", p.addr, err)
		}
		p.serveOn(ln)
	}
	return nil
}

// Blackhole with on holds every byte in both directions, on open and new
// connections (new ones are accepted, then wait), as a network partition
// does: nothing is refused or reset, nothing arrives, until Blackhole(false)
// delivers what was held, as TCP would after a partition heals.
func (p *Proxy) Blackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case on && p.held == nil:
		p.held = make(chan struct{})
	case !on && p.held != nil:
		close(p.held)
		p.held = nil
	}
}

// SetLatency delays every chunk of bytes, in each direction, by d; zero
// turns it off.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.mu.Unlock()
}

// Cut arms a one-shot fault for the next bytes in its direction on any
// connection (see CutRequest, CutReply). Arm it when only the connection
// under test talks: a pool's health check counts too.
func (p *Proxy) Cut(c Cut) {
	p.mu.Lock()
	p.cut = c
	p.mu.Unlock()
}

// Close stops listening, resets every connection and waits for the
// proxy's goroutines to end. It is safe to call more than once.
func (p *Proxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		if p.ln != nil {
			p.ln.Close()
			p.ln = nil
		}
		if p.held != nil {
			close(p.held)
			p.held = nil
		}
	}
	p.mu.Unlock()
	p.ResetAll()
	p.wg.Wait()
}
