package faults

import (
	"context"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/app"
	"github.com/rowgate/rowgate/internal/devdb"
	"github.com/rowgate/rowgate/internal/pgtest"
)

// TestRestartUnderLoad restarts PostgreSQL, fast and immediate, while 16
// users read and write: no answer is a 500 (or a broken connection), at
// least 99% of reads answer 200 (they wait out the restart within their
// deadline), and the first success comes within 1 s of PostgreSQL
// accepting connections again. Writes whose outcome the restart made
// unknown may answer 503; nothing else may fail.
func TestRestartUnderLoad(t *testing.T) {
	t.Parallel()
	for _, mode := range []devdb.ShutdownMode{devdb.ShutdownFast, devdb.ShutdownImmediate} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			restartUnderLoad(t, func(c *devdb.Cluster) (devdb.Downtime, error) {
				return c.Restart(context.Background(), mode)
			})
		})
	}
	t.Run("KillMinus9", func(t *testing.T) {
		t.Parallel()
		restartUnderLoad(t, func(c *devdb.Cluster) (devdb.Downtime, error) {
			down := time.Now()
			if err := c.Crash(); err != nil {
				return devdb.Downtime{}, err
			}
			err := c.StartServer(context.Background())
			return devdb.Downtime{Down: down, Up: time.Now()}, err
		})
	})
}

func restartUnderLoad(t *testing.T, restart func(*devdb.Cluster) (devdb.Downtime, error)) {
	db := pgtest.NewClusterDB(t, devdb.Options{Durable: true})
	s := startStack(t, db, app.Config{})
	s.waitReady(t, 30*time.Second)
	load := mixedLoad(t, s, 16)
	time.Sleep(time.Second)
	dt, err := restart(db.Cluster())
	if err != nil {
		load.finish()
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	load.finish()
	sm := load.summarize(dt.Up)
	t.Logf("PostgreSQL down for %v; %s", dt.Duration().Round(time.Millisecond), sm)
	if sm.serverErrors != 0 {
		t.Errorf("%d answers were 5xx other than 503, or broken connections", sm.serverErrors)
	}
	if sm.readTotal == 0 || float64(sm.readOK) < 0.99*float64(sm.readTotal) {
		t.Errorf("reads answered 200: %d of %d, want at least 99%%", sm.readOK, sm.readTotal)
	}
	if sm.firstOKAfter < 0 || sm.firstOKAfter > time.Second {
		t.Errorf("first success %v after PostgreSQL came back, want within 1s", sm.firstOKAfter)
	}
	for code, n := range sm.unavailableByCode {
		if code != "outcome_unknown" && code != "unavailable" {
			t.Errorf("%d answers of 503 %q", n, code)
		}
	}
}

// TestEveryBackendTerminated ends every backend rowgate has (what a Neon
// suspend or a pooler's server_lifetime does) on an idle server: the next
// 20 requests all succeed, writes included.
func TestEveryBackendTerminated(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	s := startStack(t, db, app.Config{DBMaxConns: 4})
	s.waitReady(t, 30*time.Second)
	warm := mixedLoad(t, s, 8)
	time.Sleep(500 * time.Millisecond)
	warm.finish()
	if n := db.TerminateBackends(t, "rowgate_app"); n == 0 {
		t.Fatal("no backend to terminate")
	}
	token := s.token(t, "after-terminate")
	for i := range 20 {
		var status int
		var body []byte
		if i%2 == 0 {
			status, body = s.do("POST", "/v1/todos", token, `{"title":"after"}`, nil)
		} else {
			status, body = s.get("/v1/todos", token)
		}
		if status != 200 && status != 201 {
			t.Errorf("request %d after every backend was terminated: %d %s", i, status, body)
		}
	}
}
