package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type op int

const (
	opList op = iota
	opGet
	opCreate
	opPatch
	opDelete
	opProbe // a GET of another user's todo, which must answer 404
	nOps
)

var opNames = [nOps]string{"list", "get", "create", "patch", "delete", "cross_user_get"}

// mix holds the percentage of list, get, create, patch and delete.
type mix [opProbe]int

func parseMix(s string) (mix, error) {
	var m mix
	total := 0
	for _, part := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(val)
		if !ok || err != nil || n < 0 {
			return m, fmt.Errorf("-mix: bad part %q", part)
		}
		found := false
		for o := op(0); o < opProbe; o++ {
			if opNames[o] == name {
				m[o], found = n, true
			}
		}
		if !found {
			return m, fmt.Errorf("-mix: unknown operation %q", name)
		}
		total += n
	}
	if total != 100 {
		return m, fmt.Errorf("-mix: percentages add up to %d, not 100", total)
	}
	return m, nil
}

func (m mix) pick(r uint64) op {
	n := int(r % 100)
	for o := op(0); o < opProbe; o++ {
		if n < m[o] {
			return o
		}
		n -= m[o]
	}
	return opList
}

// result is what one drive measured.
type result struct {
	conns            int
	elapsed          time.Duration
	lat              [nOps][]time.Duration
	errors           int64
	violations       int64
	errorSamples     []string
	violationSamples []string
	rssPeak          int64
	serverCPU        time.Duration // -compare: CPU the server used during the span
	cpu              cpuUse        // drive and -replicas: CPU of the server and PostgreSQL
	cpuErr           string        // why cpu was not measured, if it was not
	stale            int64         // write-then-list pairs whose list lacked the write

	mu sync.Mutex // guards the error and violation fields while workers run
}

func (r *result) total() int {
	n := 0
	for o := range r.lat {
		n += len(r.lat[o])
	}
	return n
}

func (r *result) rps(o op) float64 { return float64(len(r.lat[o])) / r.elapsed.Seconds() }

// worker drives requests for its own users, so it knows exactly which
// todos each of them owns.
type worker struct {
	st      *stack
	conn    *conn // every request, but reads when reads is another
	reads   *conn // GET requests
	echo    bool  // send each user's last Consistency-Token with its reads
	pop     *population
	users   []*user
	rng     *rand.Rand
	buf     bytes.Buffer
	lat     [nOps][]time.Duration
	res     *result
	ids     []todoID
	created atomic.Int64
}

// driver is a set of workers on kept-alive connections to st.base, which
// can be run for several spans in a row (a soak measures interval by
// interval without reconnecting).
type driver struct {
	st      *stack
	m       mix
	conns   int
	workers []*worker
}

// newDriver makes conns workers on the server at base, each on a disjoint
// share of the users. Call close when done.
func newDriver(st *stack, base string, pop *population, m mix, conns int, seed int64) (*driver, error) {
	return newClientDriver(st, clientOptions{base: base}, pop, m, conns, seed)
}

// clientOptions say how the simulated users behave towards the servers.
type clientOptions struct {
	base string
	// readBase, when set, receives the GET requests (a second rowgate
	// process behind the same load balancer); the rest go to base.
	readBase string
	// echoToken: each user remembers the Consistency-Token of its last
	// successful write and sends it with its reads, as a client of
	// read-your-writes across rowgate instances does.
	echoToken bool
}

// newClientDriver is newDriver with the users behaving as opts says.
func newClientDriver(st *stack, opts clientOptions, pop *population, m mix, conns int, seed int64) (*driver, error) {
	if len(pop.users) < conns {
		return nil, fmt.Errorf("need at least as many users (%d) as connections (%d)", len(pop.users), conns)
	}
	dr := &driver{st: st, m: m, conns: conns, workers: make([]*worker, conns)}
	for i := range dr.workers {
		w := &worker{st: st, conn: newConn(opts.base), pop: pop, echo: opts.echoToken,
			rng: rand.New(rand.NewPCG(uint64(seed), uint64(i)))}
		w.conn.wantToken, w.reads = opts.echoToken, w.conn
		if opts.readBase != "" {
			w.reads = newConn(opts.readBase)
		}
		for j := i; j < len(pop.users); j += conns {
			w.users = append(w.users, pop.users[j])
		}
		dr.workers[i] = w
	}
	return dr, nil
}

// run drives the API for d and returns what this span measured.
func (dr *driver) run(ctx context.Context, d time.Duration) *result {
	return dr.span(ctx, d, func(w *worker, deadline time.Time) { w.run(ctx, dr.m, deadline) })
}

// touchParallel bounds touch's requests in flight. Each carries a token
// the fresh server has not verified yet, and serve charges such a request
// to its client address's anonymous budget until the token has verified
// (RATE_LIMIT_ANON_BURST, default 20): with 32 in flight from one address
// on a busy machine, one was refused 429.
const touchParallel = 16

// touch lists every user's todos once, at most touchParallel at a time,
// so that a freshly started server has seen every caller (it verifies
// each token once, and provisions a caller on first contact, on the
// primary) before anything is measured.
func (dr *driver) touch(ctx context.Context) *result {
	sem := make(chan struct{}, touchParallel)
	return dr.span(ctx, time.Hour, func(w *worker, _ time.Time) {
		for _, u := range w.users {
			if ctx.Err() != nil {
				return
			}
			sem <- struct{}{}
			w.list(ctx, u)
			<-sem
		}
	})
}

// runPairs drives write-then-read pairs for d: each caller creates a todo,
// then lists its todos, which must include it unless the list is allowed
// to be stale (see worker.pair).
func (dr *driver) runPairs(ctx context.Context, d time.Duration) *result {
	return dr.span(ctx, d, func(w *worker, deadline time.Time) {
		for ctx.Err() == nil && time.Now().Before(deadline) {
			w.pair(ctx, w.users[w.rng.IntN(len(w.users))])
		}
	})
}

// span runs body on every worker at once until each returns (body stops
// starting requests at deadline) and collects what they measured.
func (dr *driver) span(ctx context.Context, d time.Duration, body func(w *worker, deadline time.Time)) *result {
	res := &result{conns: dr.conns}
	for _, w := range dr.workers {
		w.res, w.lat = res, [nOps][]time.Duration{}
	}
	// The deadline stops workers from starting requests; a request in
	// flight at the deadline still completes, so every write's outcome is
	// known and recorded.
	deadline := time.Now().Add(d)
	stopRSS := sampleRSS(dr.st, &res.rssPeak)
	start := time.Now()
	var wg sync.WaitGroup
	for _, w := range dr.workers {
		wg.Add(1)
		go func() { defer wg.Done(); body(w, deadline) }()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	stopRSS()
	for _, w := range dr.workers {
		for o := range w.lat {
			res.lat[o] = append(res.lat[o], w.lat[o]...)
		}
	}
	return res
}

// close closes the workers' connections.
func (dr *driver) close() {
	for _, w := range dr.workers {
		w.conn.close()
		w.reads.close()
	}
}

// drive runs conns workers for d, each on a disjoint share of the users,
// and measures the CPU the server and PostgreSQL used meanwhile.
func drive(ctx context.Context, st *stack, pop *population, m mix, conns int, d time.Duration, seed int64) (*result, error) {
	dr, err := newClientDriver(st, clientOptions{base: st.base, echoToken: st.o.echoToken}, pop, m, conns, seed)
	if err != nil {
		return nil, err
	}
	defer dr.close()
	return measureCPU(st, func() *result { return dr.run(ctx, d) }), nil
}

// measureCPU runs span and records in its result the CPU that the stack's
// server and clusters used meanwhile, or why it could not.
func measureCPU(st *stack, span func() *result) *result {
	before, err := st.cpuNow()
	r := span()
	if err == nil {
		var after cpuUse
		if after, err = st.cpuNow(); err == nil {
			r.cpu = after.sub(before)
		}
	}
	if err != nil {
		r.cpuErr = err.Error()
	}
	return r
}

func sampleRSS(st *stack, peak *int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if now, _ := st.rss(); now > *peak {
				*peak = now
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (w *worker) run(ctx context.Context, m mix, deadline time.Time) {
	for ctx.Err() == nil && time.Now().Before(deadline) {
		u := w.users[w.rng.IntN(len(w.users))]
		o := m.pick(w.rng.Uint64())
		if o == opGet && w.rng.IntN(10) == 0 {
			o = opProbe
		}
		start := time.Now()
		done := w.do(ctx, o, u)
		if ctx.Err() != nil {
			return // interrupted: the run is abandoned
		}
		if done >= 0 {
			w.lat[done] = append(w.lat[done], time.Since(start))
		}
	}
}

// do runs one operation and returns the operation actually performed (a
// get, patch or delete on a user without todos becomes a create), or -1.
func (w *worker) do(ctx context.Context, o op, u *user) op {
	var id todoID
	if o == opGet || o == opPatch || o == opDelete {
		var ok bool
		if id, ok = u.pick(w.rng.Uint64()); !ok {
			o = opCreate
		}
	}
	switch o {
	case opList:
		w.list(ctx, u)
	case opGet:
		w.expectTodo(u, id, w.call(ctx, u, "GET", "/v1/todos/"+id.String(), "", http.StatusOK))
	case opProbe:
		w.probe(ctx, u)
	case opCreate:
		w.create(ctx, u)
	case opPatch:
		body := `{"completed":` + strconv.FormatBool(w.rng.IntN(2) == 0) + `}`
		w.expectTodo(u, id, w.call(ctx, u, "PATCH", "/v1/todos/"+id.String(), body, http.StatusOK))
	case opDelete:
		if w.call(ctx, u, "DELETE", "/v1/todos/"+id.String(), "", http.StatusNoContent) {
			u.remove(id)
		}
	}
	return o
}

// list lists the user's todos and returns their ids (valid until the
// worker's next request), and whether the list answered.
func (w *worker) list(ctx context.Context, u *user) ([]todoID, bool) {
	if !w.call(ctx, u, "GET", "/v1/todos", "", http.StatusOK) {
		return nil, false
	}
	return w.checkOwned(u, w.buf.Bytes(), false), true
}

// create creates a todo for the user and returns its id, if it answered.
func (w *worker) create(ctx context.Context, u *user) (todoID, bool) {
	body := `{"title":"load ` + strconv.FormatInt(w.created.Add(1), 10) + `"}`
	if !w.call(ctx, u, "POST", "/v1/todos", body, http.StatusCreated) {
		return todoID{}, false
	}
	ids := w.checkOwned(u, w.buf.Bytes(), true)
	if len(ids) != 1 {
		return todoID{}, false
	}
	u.add(ids[0])
	return ids[0], true
}

// pair creates a todo for u, then lists u's todos, timing each. The new
// todo is the newest, so a list that has the write shows it first; one
// that does not is stale: an error when the list was routed by the
// caller's floor (its token echoed, or its write made through the same
// server), counted in res.stale either way.
func (w *worker) pair(ctx context.Context, u *user) {
	start := time.Now()
	id, ok := w.create(ctx, u)
	w.lat[opCreate] = append(w.lat[opCreate], time.Since(start))
	if !ok {
		return
	}
	start = time.Now()
	ids, ok := w.list(ctx, u)
	w.lat[opList] = append(w.lat[opList], time.Since(start))
	if !ok || slices.Contains(ids, id) {
		return
	}
	w.res.mu.Lock()
	w.res.stale++
	w.res.mu.Unlock()
	if w.echo || w.reads == w.conn {
		w.fail(fmt.Sprintf("stale read: %s created %s and its list did not show it", u.id, id))
	}
}

// probe asks for another user's todo; anything but 404 is a violation.
func (w *worker) probe(ctx context.Context, u *user) {
	other := w.pop.users[w.rng.IntN(len(w.pop.users))]
	if other == u {
		return
	}
	id, ok := other.pick(w.rng.Uint64())
	if !ok {
		return
	}
	status, err := w.request(ctx, u, "GET", "/v1/todos/"+id.String(), "")
	switch {
	case ctx.Err() != nil:
		return
	case err != nil:
		w.fail(fmt.Sprintf("GET another user's todo: %v", err))
	case status == http.StatusOK:
		w.violate(fmt.Sprintf("%s read %s's todo %s: %s", u.id, other.id, id, snippet(w.buf.Bytes())))
	case status != http.StatusNotFound:
		w.fail(fmt.Sprintf("GET another user's todo: status %d: %s", status, snippet(w.buf.Bytes())))
	}
}

// expectTodo checks a single-todo response is the caller's todo id.
func (w *worker) expectTodo(u *user, id todoID, ok bool) {
	if !ok {
		return
	}
	ids := w.checkOwned(u, w.buf.Bytes(), true)
	if len(ids) != 1 || ids[0] != id {
		w.violate(fmt.Sprintf("%s asked for %s and got %s", u.id, id, snippet(w.buf.Bytes())))
	}
}

var (
	keyID        = []byte(`"id":"`)
	keyUserID    = []byte(`"user_id":"`)
	afterIDUntil = []byte(`","user_id":"`)
)

// checkOwned finds every todo in a response body and checks that its
// user_id is the caller and that its id is one the caller owns (unless it
// was just created). It returns the ids. The server writes each todo's
// user_id right after its id; that adjacency is checked, and so is the
// count of user_id keys in the whole body, so no todo escapes the check.
func (w *worker) checkOwned(u *user, body []byte, fresh bool) []todoID {
	ids := w.ids[:0]
	for rest := body; ; {
		i := bytes.Index(rest, keyID)
		if i < 0 {
			break
		}
		rest = rest[i+len(keyID):]
		id, err := parseTodoID(rest[:min(36, len(rest))])
		if err != nil {
			w.fail("unparseable todo id in " + snippet(body))
			return nil
		}
		rest = rest[36:]
		owner, ok := bytes.CutPrefix(rest, afterIDUntil)
		if !ok || len(owner) <= len(u.id) || string(owner[:len(u.id)]) != u.id || owner[len(u.id)] != '"' {
			w.violate(fmt.Sprintf("%s received todo %s of another user: %s", u.id, id, snippet(body)))
		}
		ids = append(ids, id)
	}
	if n := bytes.Count(body, keyUserID); n != len(ids) {
		w.fail(fmt.Sprintf("%d ids but %d user_ids in %s", len(ids), n, snippet(body)))
	}
	if !fresh {
		u.mu.Lock()
		for _, id := range ids {
			if _, ok := u.pos[id]; !ok {
				w.violateLocked(u, id)
			}
		}
		u.mu.Unlock()
	}
	w.ids = ids
	return ids
}

func (w *worker) violateLocked(u *user, id todoID) {
	w.violate(fmt.Sprintf("%s received todo %s, which it does not own", u.id, id))
}

// call sends a request and reports whether it answered want; anything
// else is counted as an error.
func (w *worker) call(ctx context.Context, u *user, method, path, body string, want int) bool {
	status, err := w.request(ctx, u, method, path, body)
	if err != nil {
		if ctx.Err() == nil {
			w.fail(fmt.Sprintf("%s %s: %v", method, path, err))
		}
		return false
	}
	if status != want {
		w.fail(fmt.Sprintf("%s %s: status %d, want %d: %s", method, path, status, want, snippet(w.buf.Bytes())))
		return false
	}
	return true
}

// request sends one request as u: a GET on the reads connection, with
// u's last Consistency-Token when the worker echoes tokens; anything else
// on the main connection, keeping the token a successful write answers.
func (w *worker) request(ctx context.Context, u *user, method, path, body string) (int, error) {
	if method != http.MethodGet {
		status, err := w.conn.do(ctx, method, path, u.bearer, body, &w.buf)
		if w.echo && err == nil && status < 300 && len(w.conn.token) > 0 {
			u.token = string(w.conn.token)
		}
		return status, err
	}
	token := ""
	if w.echo {
		token = u.token
	}
	return w.reads.doWithToken(ctx, method, path, u.bearer, token, body, &w.buf)
}

func (w *worker) fail(msg string) {
	w.res.mu.Lock()
	defer w.res.mu.Unlock()
	w.res.errors++
	if len(w.res.errorSamples) < 10 {
		w.res.errorSamples = append(w.res.errorSamples, msg)
	}
}

func (w *worker) violate(msg string) {
	w.res.mu.Lock()
	defer w.res.mu.Unlock()
	w.res.violations++
	if len(w.res.violationSamples) < 10 {
		w.res.violationSamples = append(w.res.violationSamples, msg)
	}
}

func snippet(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
