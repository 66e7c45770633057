package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/app"
	"github.com/rowgate/rowgate/internal/devdb"
	"github.com/rowgate/rowgate/internal/pgtest"
	"github.com/rowgate/rowgate/internal/postgres"
)

// replicaSetup is a primary of the test's own with one streaming standby,
// which rowgate uses as a replica.
type replicaSetup struct {
	db      *pgtest.DB
	standby *devdb.Cluster
	url     string // the standby, as rowgate_app
	name    string // the standby as /metrics names it
}

func newReplicaSetup(t *testing.T, opts devdb.Options) *replicaSetup {
	t.Helper()
	db := pgtest.NewClusterDB(t, opts)
	standby := pgtest.StartStandby(t, db.Cluster(), devdb.StandbyOptions{ApplicationName: "standby1"})
	url := standby.URL(pgtest.App, db.Name)
	return &replicaSetup{db: db, standby: standby, url: url, name: postgres.ReplicaName(url)}
}

// catchUp waits until the standby has replayed everything the primary has
// written so far.
func (rs *replicaSetup) catchUp(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	lsn, err := rs.db.Cluster().CurrentLSN(ctx)
	if err == nil {
		err = rs.standby.WaitForReplay(ctx, lsn)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// replicaReads is how many reads the stack sent to the standby so far.
func (s *stack) replicaReads(t *testing.T, rs *replicaSetup) float64 {
	return s.metric(t, fmt.Sprintf(`rowgate_db_reads_total{target=%q}`, rs.name))
}

// waitInRotation waits until the stack reports the standby in rotation.
func (s *stack) waitInRotation(t *testing.T, rs *replicaSetup) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.metric(t, fmt.Sprintf(`rowgate_db_replica_in_rotation{replica=%q}`, rs.name)) != 1 {
		if time.Now().After(deadline) {
			_, body := s.get("/metrics", "")
			t.Fatalf("the replica never joined rotation:\n%s\n%s", grep(string(body), "replica"), s.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// writeThenRead creates a todo as token through w, then reads it back
// through r (sending the write's Consistency-Token when echo): it reports
// whether the read saw the write, both by id and in the list.
func writeThenRead(w, r *stack, token string, i int, echo bool) (bool, string) {
	title := fmt.Sprintf("ryw %d", i)
	status, header, body := w.doFull("POST", "/v1/todos", token, `{"title":"`+title+`"}`, nil)
	var created struct{ ID string }
	if status != 201 || json.Unmarshal(body, &created) != nil || header.Get("Consistency-Token") == "" {
		return false, fmt.Sprintf("create: %d %s (Consistency-Token %q)", status, body, header.Get("Consistency-Token"))
	}
	h := map[string]string{}
	if echo {
		h["Consistency-Token"] = header.Get("Consistency-Token")
	}
	status, body = r.do("GET", "/v1/todos/"+created.ID, token, "", h)
	if status != 200 {
		return false, fmt.Sprintf("read own todo: %d %s", status, body)
	}
	status, body = r.do("GET", "/v1/todos?limit=100", token, "", h)
	if status != 200 || !strings.Contains(string(body), created.ID) {
		return false, fmt.Sprintf("own todo missing from the list: %d", status)
	}
	return true, ""
}

// TestReadYourWritesPausedStandby pauses replay on the standby, then runs
// 1,000 write-then-read sequences by 50 callers through one rowgate: every
// read sees its own write (the primary answers those callers), while other
// callers' reads keep going to the replica. Then the same through a second
// rowgate process that only has the Consistency-Token the client echoes:
// again no stale read (and without the token it would be stale). Once
// replay passes a caller's floor, their reads go back to the replica, and
// the floors are forgotten.
func TestReadYourWritesPausedStandby(t *testing.T) {
	t.Parallel()
	rs := newReplicaSetup(t, devdb.Options{})
	cfg := app.Config{ReplicaURLs: []string{rs.url}, ReplicaMaxLag: time.Minute}
	a := startStack(t, rs.db, cfg)
	b := startStackWithKey(t, rs.db, cfg, a.key)
	a.waitReady(t, 30*time.Second)
	b.waitReady(t, 30*time.Second)
	a.waitInRotation(t, rs)
	b.waitInRotation(t, rs)

	// Readers who write nothing, known to both processes, with a todo each.
	readers := make([]string, 10)
	for i := range readers {
		readers[i] = a.token(t, fmt.Sprintf("reader-%02d", i))
		for _, s := range []*stack{a, b} {
			if status, body := s.do("POST", "/v1/todos", readers[i], `{"title":"before the pause"}`, nil); status != 201 {
				t.Fatalf("reader create: %d %s", status, body)
			}
		}
	}
	writers := make([]string, 50)
	for i := range writers {
		writers[i] = a.token(t, fmt.Sprintf("writer-%02d", i))
		a.get("/v1/me", writers[i]) // first contact (provisioning) goes to the primary
		b.get("/v1/me", writers[i])
	}
	rs.catchUp(t)
	time.Sleep(300 * time.Millisecond) // past the floors' memory
	if err := rs.standby.PauseReplay(context.Background()); err != nil {
		t.Fatal(err)
	}

	sequences := func(w, r *stack, echo bool) (stale int, failures []string) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var readerReads sync.WaitGroup
		readerReads.Go(func() { // other callers read all along
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if status, _ := r.get("/v1/todos", readers[i%len(readers)]); status != 200 {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("reader: %d", status))
					mu.Unlock()
				}
			}
		})
		for i, tok := range writers {
			wg.Go(func() {
				for j := range 20 {
					if ok, why := writeThenRead(w, r, tok, i*100+j, echo); !ok {
						mu.Lock()
						stale++
						failures = append(failures, why)
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		readerReads.Wait()
		return stale, failures
	}

	replicaBefore := a.replicaReads(t, rs)
	stale, failures := sequences(a, a, false)
	replicaDuring := a.replicaReads(t, rs) - replicaBefore
	t.Logf("one process: 1000 write-then-read sequences, %d stale; %v reads went to the paused replica meanwhile", stale, replicaDuring)
	if stale != 0 || len(failures) != 0 {
		t.Errorf("one process: %d stale reads; first failures: %v", stale, first(failures, 5))
	}
	if replicaDuring < 50 {
		t.Errorf("other callers' reads did not keep going to the replica: %v", replicaDuring)
	}

	stale, failures = sequences(a, b, true)
	t.Logf("two processes, token echoed: 1000 sequences, %d stale", stale)
	if stale != 0 || len(failures) != 0 {
		t.Errorf("two processes with the token: %d stale reads; first failures: %v", stale, first(failures, 5))
	}
	if ok, _ := writeThenRead(a, b, writers[0], 99999, false); ok {
		t.Error("without the token, the second process read the write from a paused replica: the test cannot tell the token's work")
	}

	if err := rs.standby.ResumeReplay(context.Background()); err != nil {
		t.Fatal(err)
	}
	rs.catchUp(t)
	deadline := time.Now().Add(10 * time.Second)
	for a.metric(t, "rowgate_db_replica_floors") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("floors still remembered after the replica caught up: %v", a.metric(t, "rowgate_db_replica_floors"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := a.replicaReads(t, rs)
	if status, _ := a.get("/v1/todos", writers[0]); status != 200 || a.replicaReads(t, rs) != before+1 {
		t.Errorf("after replay passed the floor, the writer's read did not go to the replica (%d)", status)
	}
}

func first(xs []string, n int) []string {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}

// TestReplicasServeTheMix: with replay live, at least 90% of the reads of
// the default mix (80% list, 10% get, 5% create, 4% update, 1% delete) are
// served by the replica, writers' reads included.
func TestReplicasServeTheMix(t *testing.T) {
	t.Parallel()
	rs := newReplicaSetup(t, devdb.Options{})
	s := startStack(t, rs.db, app.Config{ReplicaURLs: []string{rs.url}})
	s.waitReady(t, 30*time.Second)
	s.waitInRotation(t, rs)
	tokens := make([]string, 16)
	for i := range tokens {
		tokens[i] = s.token(t, fmt.Sprintf("mix-%02d", i))
		s.do("POST", "/v1/todos", tokens[i], `{"title":"first"}`, nil) // first contact
	}
	primary0, replica0 := s.metric(t, `rowgate_db_reads_total{target="primary"}`), s.replicaReads(t, rs)
	var wg sync.WaitGroup
	deadline := time.Now().Add(4 * time.Second)
	for w, tok := range tokens {
		wg.Go(func() { defaultMix(s, tok, w, deadline) })
	}
	wg.Wait()
	primary, replica := s.metric(t, `rowgate_db_reads_total{target="primary"}`)-primary0, s.replicaReads(t, rs)-replica0
	share := replica / (primary + replica)
	t.Logf("reads: %v by the replica, %v by the primary (%.1f%% replica)", replica, primary, 100*share)
	if share < 0.90 {
		t.Errorf("the replica served %.1f%% of reads, want at least 90%%", 100*share)
	}
}

// defaultMix drives one user with the load tool's default mix until
// deadline.
func defaultMix(s *stack, tok string, seed int, deadline time.Time) {
	var mine []string
	for i := seed; time.Now().Before(deadline); i++ {
		switch n := i % 100; {
		case n < 80 || len(mine) == 0 && n >= 90:
			s.get("/v1/todos", tok)
		case n < 90:
			if len(mine) > 0 {
				s.get("/v1/todos/"+mine[len(mine)-1], tok)
			}
		case n < 95:
			_, body := s.do("POST", "/v1/todos", tok, `{"title":"mix"}`, nil)
			var c struct{ ID string }
			if json.Unmarshal(body, &c) == nil && c.ID != "" {
				mine = append(mine, c.ID)
			}
		case n < 99:
			s.do("PATCH", "/v1/todos/"+mine[len(mine)-1], tok, `{"completed":true}`, nil)
		default:
			s.do("DELETE", "/v1/todos/"+mine[len(mine)-1], tok, "", nil)
			mine = mine[:len(mine)-1]
		}
	}
}

// TestReadsSurvivePrimaryLoss stops the primary: callers the service
// knows keep reading from the replica (200), writes answer 503 with
// Retry-After (never 500), and /readyz stays 200, saying the service is
// degraded, so load balancers keep sending reads. With the primary back,
// writes work again.
func TestReadsSurvivePrimaryLoss(t *testing.T) {
	t.Parallel()
	rs := newReplicaSetup(t, devdb.Options{})
	s := startStack(t, rs.db, app.Config{ReplicaURLs: []string{rs.url}, RequestTimeout: time.Second})
	s.waitReady(t, 30*time.Second)
	s.waitInRotation(t, rs)
	tok := s.token(t, "survivor")
	if status, _ := s.do("POST", "/v1/todos", tok, `{"title":"written before"}`, nil); status != 201 {
		t.Fatal("create")
	}
	rs.catchUp(t)
	ctx := context.Background()
	if err := rs.db.Cluster().StopServer(ctx, devdb.ShutdownFast); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond) // the floor ages out of nothing: it was reached
	for i := range 10 {
		if status, body := s.get("/v1/todos", tok); status != 200 || !strings.Contains(string(body), "written before") {
			t.Errorf("read %d with the primary down: %d %s", i, status, body)
		}
	}
	status, header, body := s.doFull("POST", "/v1/todos", tok, `{"title":"while down"}`, nil)
	if status != 503 || header.Get("Retry-After") == "" {
		t.Errorf("write with the primary down: %d %s", status, body)
	}
	if status, body := s.get("/readyz", ""); status != 200 || !strings.Contains(string(body), "degraded") {
		t.Errorf("/readyz with the primary down and a replica serving: %d %s", status, body)
	}
	if err := rs.db.Cluster().StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if status, _ := s.do("POST", "/v1/todos", tok, `{"title":"after"}`, nil); status == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writes did not come back with the primary")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplicaWithBypassingRoleStopsTheService gives rowgate a replica URL
// that logs in as the table owner, who bypasses row level security: the
// service stops with the reason, as it does for such a primary (the
// replica never joins rotation before its check passes).
func TestReplicaWithBypassingRoleStopsTheService(t *testing.T) {
	t.Parallel()
	rs := newReplicaSetup(t, devdb.Options{})
	s := startStack(t, rs.db, app.Config{ReplicaURLs: []string{rs.standby.URL(pgtest.Owner, rs.db.Name)}})
	select {
	case err := <-s.runErr:
		s.runErr <- err // for the cleanup
		if err == nil || !strings.Contains(err.Error(), "row level security would not hold") || !strings.Contains(err.Error(), "replica") {
			t.Fatalf("Run returned %v, want the replica's refusal", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the service kept running with a replica whose role bypasses RLS")
	}
}
