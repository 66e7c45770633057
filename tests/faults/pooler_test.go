package faults

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/app"
	"github.com/rowgate/rowgate/internal/pgtest"
)

// TestPoolerOnRandomPort puts Debian's PgBouncer, in transaction mode, on
// a random TCP port in front of the database, and gives rowgate the plain
// URL a user would paste: nothing in it says "pooler", so rowgate starts
// with named prepared statements, meets 42P05/26000, switches once and
// resends. 1,000 creates by 20 users all answer 201, none 5xx, and every
// user then lists exactly their own 50 todos.
func TestPoolerOnRandomPort(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	b := pgtest.StartBouncer(t, db, pgtest.BouncerOptions{TCP: true, PoolSize: 3})
	url := b.URL(pgtest.App)
	if strings.Contains(url, "pooler") || strings.Contains(url, ":6432") || strings.Contains(url, "exec_mode") {
		t.Fatalf("the URL gives the pooler away: %s", url)
	}
	s := startStack(t, db, app.Config{DatabaseURL: url, DBMaxConns: 16})
	s.waitReady(t, 30*time.Second)
	const users, each = 20, 50
	statuses := make([]map[int]int, users)
	var wg sync.WaitGroup
	for u := range users {
		statuses[u] = map[int]int{}
		token := s.token(t, fmt.Sprintf("pooled-%02d", u))
		wg.Go(func() {
			for i := range each {
				status, _ := s.do("POST", "/v1/todos", token, fmt.Sprintf(`{"title":"pooled %d"}`, i), nil)
				statuses[u][status]++
			}
		})
	}
	wg.Wait()
	created := 0
	for u := range users {
		created += statuses[u][201]
		if statuses[u][201] != each {
			t.Errorf("user %d: statuses %v, want %d × 201", u, statuses[u], each)
		}
	}
	t.Logf("%d of %d creates answered 201; pooler switches %v, batches resent after the pooler's errors %v",
		created, users*each, s.metric(t, "rowgate_db_pooler_switches_total"), s.metric(t, `rowgate_db_retries_total{reason="aborted"}`))
	if s.metric(t, "rowgate_db_pooler_switches_total") != 1 {
		t.Error("the pool did not switch to unnamed statements exactly once")
	}
	if n := strings.Count(s.logs.String(), "transaction pooler detected"); n != 1 {
		t.Errorf("the switch was logged %d times, want once", n)
	}
	for u := range users {
		checkOnlyOwn(t, s, fmt.Sprintf("pooled-%02d", u), each)
	}
}

// checkOnlyOwn pages through user's todos: exactly want, all theirs.
func checkOnlyOwn(t *testing.T, s *stack, user string, want int) {
	t.Helper()
	token := s.token(t, user)
	seen, cursor := 0, ""
	for {
		status, body := s.get("/v1/todos?limit=100"+cursor, token)
		var page struct {
			Items []struct {
				UserID string `json:"user_id"`
			} `json:"items"`
			Next *string `json:"next_cursor"`
		}
		if status != 200 || json.Unmarshal(body, &page) != nil {
			t.Fatalf("%s lists: %d %s", user, status, body)
		}
		for _, it := range page.Items {
			if it.UserID != user {
				t.Fatalf("%s was shown a todo of %s", user, it.UserID)
			}
			seen++
		}
		if page.Next == nil {
			break
		}
		cursor = "&cursor=" + *page.Next
	}
	if seen != want {
		t.Errorf("%s has %d todos, want %d", user, seen, want)
	}
}
