package devdb

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func startStandby(t *testing.T, ctx context.Context, primary *Cluster, opts StandbyOptions) *Cluster {
	t.Helper()
	start := time.Now()
	s, err := StartStandby(ctx, primary, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("standby %s streaming after %s", s.Dir, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { s.Stop() })
	return s
}

// writeAndWait inserts a row on primary and waits until standby has it.
func writeAndWait(t *testing.T, ctx context.Context, primary, standby *Cluster, table string, i int) LSN {
	t.Helper()
	mustSQL(t, ctx, primary, fmt.Sprintf("insert into %s values (%d)", table, i))
	lsn, err := primary.CurrentLSN(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := standby.WaitForReplay(ctx, lsn); err != nil {
		t.Fatal(err)
	}
	return lsn
}

func TestStandbyReplaysPausesAndStaysSynchronous(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	primary := startCluster(t, ctx, Options{Durable: true})
	mustSQL(t, ctx, primary, "create table r (i int)")
	standby := startStandby(t, ctx, primary, StandbyOptions{Slot: "s1", ApplicationName: "s1"})

	writeAndWait(t, ctx, primary, standby, "r", 1)
	wantSQL(t, ctx, standby, "select count(*) from r", "1")
	wantSQL(t, ctx, standby, "select pg_is_in_recovery()", "t")
	if _, err := standby.SQL(ctx, "insert into r values (0)"); err == nil {
		t.Fatal("a standby accepted a write")
	}
	wantSQL(t, ctx, primary, "select application_name, state from pg_stat_replication", "s1|streaming")
	wantSQL(t, ctx, primary, "select slot_name, active from pg_replication_slots", "s1|t")

	t.Run("PauseReplay", func(t *testing.T) {
		if err := standby.PauseReplay(ctx); err != nil {
			t.Fatal(err)
		}
		paused, err := standby.ReplayLSN(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mustSQL(t, ctx, primary, "insert into r values (2)")
		written, err := primary.CurrentLSN(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The WAL reaches the standby, which does not apply it.
		if err := primary.poll(ctx, "the standby to receive "+written.String(),
			"select flush_lsn >= '"+written.String()+"' from pg_stat_replication",
			func(out string) bool { return out == "t" }); err != nil {
			t.Fatal(err)
		}
		if now, err := standby.ReplayLSN(ctx); err != nil || now != paused || now >= written {
			t.Fatalf("replay at %s (%v) while paused at %s, primary at %s", now, err, paused, written)
		}
		wantSQL(t, ctx, standby, "select count(*) from r", "1")
		if err := standby.ResumeReplay(ctx); err != nil {
			t.Fatal(err)
		}
		if err := standby.WaitForReplay(ctx, written); err != nil {
			t.Fatal(err)
		}
		wantSQL(t, ctx, standby, "select count(*) from r", "2")
	})

	t.Run("SynchronousCommitWaitsForTheStandby", func(t *testing.T) {
		if err := primary.SetSynchronousStandbys(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		wantSQL(t, ctx, primary, "select sync_state from pg_stat_replication", "sync")
		if err := standby.StopServer(ctx, ShutdownFast); err != nil {
			t.Fatal(err)
		}
		committed := make(chan error, 1)
		go func() {
			_, err := primary.SQL(ctx, "insert into r values (3)")
			committed <- err
		}()
		for mustSQL(t, ctx, primary, "select count(*) from pg_stat_activity where wait_event = 'SyncRep'") != "1" {
			select {
			case err := <-committed:
				t.Fatalf("the commit returned (%v) with its synchronous standby down", err)
			case <-time.After(20 * time.Millisecond):
			}
		}
		if err := standby.StartServer(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-committed; err != nil {
			t.Fatal(err)
		}
		if err := primary.SetSynchronousStandbys(ctx); err != nil {
			t.Fatal(err)
		}
		wantSQL(t, ctx, primary, "select sync_state from pg_stat_replication", "async")
	})
}

// TestFailover kills the primary, promotes one standby, re-points the other
// at it, and shows a multi-host URL finding the new primary.
func TestFailover(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	primary := tcpCluster(t, ctx, Options{Durable: true})
	mustSQL(t, ctx, primary, "create table f (i int)")
	s1 := startStandby(t, ctx, primary, StandbyOptions{Options: tcpOptions(t), ApplicationName: "s1"})
	s2 := startStandby(t, ctx, primary, StandbyOptions{Options: tcpOptions(t), ApplicationName: "s2"})
	writeAndWait(t, ctx, primary, s1, "f", 1)
	writeAndWait(t, ctx, primary, s2, "f", 2)
	url := MultiHostURL(Superuser, "postgres", primary, s1, s2)
	wantTCPPort(t, ctx, url, primary.Port)

	if err := primary.Crash(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s1.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	promoted := time.Since(start)
	wantTCPPort(t, ctx, url, s1.Port) // the primary is down, s1 accepts writes
	if err := s2.Follow(ctx, s1); err != nil {
		t.Fatal(err)
	}
	t.Logf("promote took %s; s2 follows s1 after %s", promoted.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	writeAndWait(t, ctx, s1, s2, "f", 3)
	wantSQL(t, ctx, s2, "select string_agg(i::text, ',' order by i) from f", "1,2,3")
	wantSQL(t, ctx, s1, "select application_name from pg_stat_replication", "s2")

	// A standby that is down does not count either.
	if err := s2.StopServer(ctx, ShutdownImmediate); err != nil {
		t.Fatal(err)
	}
	wantTCPPort(t, ctx, url, s1.Port)
}

func tcpOptions(t *testing.T) Options {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return Options{TCPPort: port}
}

func TestLSN(t *testing.T) {
	for _, s := range []string{"0/0", "0/3000148", "16/B374D848", "FFFFFFFF/FFFFFFFF"} {
		l, err := ParseLSN(s)
		if err != nil || l.String() != s {
			t.Errorf("ParseLSN(%q) = %s, %v", s, l, err)
		}
	}
	if a, b := mustLSN(t, "0/FFFFFFFF"), mustLSN(t, "1/0"); a >= b {
		t.Errorf("%s >= %s", a, b)
	}
	for _, s := range []string{"", "0", "x/1", "1/2/3", "100000000/0"} {
		if _, err := ParseLSN(s); err == nil {
			t.Errorf("ParseLSN(%q) accepted", s)
		}
	}
}

func mustLSN(t *testing.T, s string) LSN {
	t.Helper()
	l, err := ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestMultiHostURL(t *testing.T) {
	a := &Cluster{Dir: "/tmp/a", Port: 5001, TCP: true}
	b := &Cluster{Dir: "/tmp/b", Port: 5002, TCP: true}
	c := &Cluster{Dir: "/tmp/c", Port: 5432}
	for _, tc := range []struct {
		clusters []*Cluster
		want     string
	}{
		{[]*Cluster{a, b}, "postgres://u@127.0.0.1:5001,127.0.0.1:5002/db?sslmode=disable&target_session_attrs=read-write"},
		{[]*Cluster{a, c}, "postgres://u@/db?host=%2Ftmp%2Fa%2C%2Ftmp%2Fc&port=5001%2C5432&sslmode=disable&target_session_attrs=read-write"},
	} {
		if got := MultiHostURL("u", "db", tc.clusters...); got != tc.want {
			t.Errorf("MultiHostURL = %s, want %s", got, tc.want)
		}
	}
}
