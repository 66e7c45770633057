package faults

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// response is one answer the load saw.
type response struct {
	read   bool
	status int
	end    time.Time
	code   string // a problem's code
}

// tally collects every response of a load.
type tally struct {
	mu   sync.Mutex
	rs   []response
	stop chan struct{}
	done sync.WaitGroup
}

// mixedLoad runs workers at once, each as a user of its own, until
// tally.finish: it creates a todo, then reads (a list page, the todo) and
// updates it, over and over.
func mixedLoad(t *testing.T, s *stack, workers int) *tally {
	t.Helper()
	tl := &tally{stop: make(chan struct{})}
	for w := range workers {
		token := s.token(t, fmt.Sprintf("load-user-%02d", w))
		tl.done.Go(func() { tl.worker(s, token) })
	}
	return tl
}

func (tl *tally) worker(s *stack, token string) {
	var mine string
	for i := 0; ; i++ {
		select {
		case <-tl.stop:
			return
		default:
		}
		var r response
		switch {
		case mine == "" || i%5 == 0:
			status, body := s.do("POST", "/v1/todos", token, `{"title":"under load"}`, nil)
			r = response{status: status, code: problemCode(body)}
			var created struct{ ID string }
			if status == 201 && json.Unmarshal(body, &created) == nil {
				mine = created.ID
			}
		case i%5 == 1:
			status, body := s.do("PATCH", "/v1/todos/"+mine, token, fmt.Sprintf(`{"title":"edit %d"}`, i), nil)
			r = response{status: status, code: problemCode(body)}
		case i%5 == 2:
			status, body := s.get("/v1/todos/"+mine, token)
			r = response{read: true, status: status, code: problemCode(body)}
		default:
			status, body := s.get("/v1/todos?limit=10", token)
			r = response{read: true, status: status, code: problemCode(body)}
		}
		r.end = time.Now()
		tl.mu.Lock()
		tl.rs = append(tl.rs, r)
		tl.mu.Unlock()
	}
}

// finish stops the load and waits for the requests in flight.
func (tl *tally) finish() {
	close(tl.stop)
	tl.done.Wait()
}

// summary is what a load saw, by kind of request and status.
type summary struct {
	reads, writes       map[int]int
	readOK, readTotal   int
	serverErrors        int // 5xx other than 503, and transport failures
	firstOKAfter        time.Duration
	unavailableByCode   map[string]int
	requestsAfterOutage int
}

// summarize counts the responses; up is when PostgreSQL accepted
// connections again (zero for none): firstOKAfter is how long after it the
// first 200 or 201 completed.
func (tl *tally) summarize(up time.Time) summary {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	sm := summary{reads: map[int]int{}, writes: map[int]int{}, unavailableByCode: map[string]int{}, firstOKAfter: -1}
	sort.Slice(tl.rs, func(i, j int) bool { return tl.rs[i].end.Before(tl.rs[j].end) })
	for _, r := range tl.rs {
		if r.read {
			sm.reads[r.status]++
			sm.readTotal++
			if r.status == 200 {
				sm.readOK++
			}
		} else {
			sm.writes[r.status]++
		}
		if r.status == 0 || (r.status >= 500 && r.status != 503) {
			sm.serverErrors++
		}
		if r.status == 503 {
			sm.unavailableByCode[r.code]++
		}
		ok := r.status == 200 || r.status == 201
		if !up.IsZero() && ok && !r.end.Before(up) && sm.firstOKAfter < 0 {
			sm.firstOKAfter = r.end.Sub(up)
		}
	}
	return sm
}

func (sm summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "reads by status %v, writes by status %v, 503s by code %v; reads 200: %d/%d (%.2f%%)",
		sm.reads, sm.writes, sm.unavailableByCode, sm.readOK, sm.readTotal, 100*float64(sm.readOK)/float64(max(sm.readTotal, 1)))
	if sm.firstOKAfter >= 0 {
		fmt.Fprintf(&b, "; first success %v after PostgreSQL accepted connections again", sm.firstOKAfter.Round(time.Millisecond))
	}
	return b.String()
}
