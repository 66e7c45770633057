package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/rowgate/rowgate/internal/todo"
)

type todoID [16]byte

// user is one caller: its token and the ids of the todos it owns. A worker
// owns a disjoint set of users, so it knows exactly what each may see;
// other workers only read ids (for cross-user probes), under mu.
type user struct {
	idx    int
	id     string
	bearer string
	// token is the Consistency-Token of the user's last write, kept by the
	// worker that owns the user when it echoes tokens.
	token string

	mu  sync.Mutex
	ids []todoID
	pos map[todoID]int
}

func (u *user) add(id todoID) {
	u.mu.Lock()
	u.pos[id] = len(u.ids)
	u.ids = append(u.ids, id)
	u.mu.Unlock()
}

func (u *user) remove(id todoID) {
	u.mu.Lock()
	defer u.mu.Unlock()
	i, ok := u.pos[id]
	if !ok {
		return
	}
	last := u.ids[len(u.ids)-1]
	u.ids[i], u.pos[last] = last, i
	u.ids = u.ids[:len(u.ids)-1]
	delete(u.pos, id)
}

func (u *user) owns(id todoID) bool {
	u.mu.Lock()
	_, ok := u.pos[id]
	u.mu.Unlock()
	return ok
}

// pick returns one of the user's todos, chosen by r, if it has any.
func (u *user) pick(r uint64) (todoID, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.ids) == 0 {
		return todoID{}, false
	}
	return u.ids[r%uint64(len(u.ids))], true
}

type population struct{ users []*user }

func userID(i int) string { return fmt.Sprintf("loaduser%024d", i) }

// seed creates n users with m todos each, as each user, through row level
// security: set_config + insert … returning id, in one batch per 1000 rows.
func seed(ctx context.Context, st *stack, n, m int) (*population, error) {
	pop := &population{users: make([]*user, n)}
	for i := range pop.users {
		id := userID(i)
		token, err := st.key.Mint(todo.Caller{ID: id, Email: id + "@load.test", Name: "Load " + id[len(id)-6:]}, issuer, audience, 3*time.Hour)
		if err != nil {
			return nil, err
		}
		pop.users[i] = &user{idx: i, id: id, bearer: "Bearer " + token, pos: make(map[todoID]int, m)}
	}
	return pop, addTodos(ctx, st, pop, m)
}

// addTodos gives every user m more todos.
func addTodos(ctx context.Context, st *stack, pop *population, m int) error {
	start := time.Now()
	err := forEachUser(ctx, st, pop, func(ctx context.Context, pool *pgxpool.Pool, u *user) error {
		return seedUser(ctx, pool, u, m)
	})
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if st.superURL != "" {
		if err := execSQL(ctx, st.superURL, "vacuum analyze todos"); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "load: seeded %d users × %d todos in %s\n", len(pop.users), m, time.Since(start).Round(time.Millisecond))
	return nil
}

// resync reloads every user's todo ids from the database, as that user,
// after something other than this tool (pgbench) changed them.
func resync(ctx context.Context, st *stack, pop *population) error {
	return forEachUser(ctx, st, pop, func(ctx context.Context, pool *pgxpool.Pool, u *user) error {
		var ids []todoID
		b := &pgx.Batch{}
		b.Queue(seedSetIdentity, u.id)
		b.Queue(`select id::text from todos`).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					return err
				}
				id, err := parseTodoID([]byte(s))
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return rows.Err()
		})
		if err := pool.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		u.mu.Lock()
		u.ids, u.pos = ids, make(map[todoID]int, len(ids))
		for i, id := range ids {
			u.pos[id] = i
		}
		u.mu.Unlock()
		return nil
	})
}

// forEachUser runs fn for every user, eight at a time, over a pool of
// rowgate_app connections.
func forEachUser(ctx context.Context, st *stack, pop *population, fn func(context.Context, *pgxpool.Pool, *user) error) error {
	pool, err := pgxpool.New(ctx, st.appURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, u := range pop.users {
		g.Go(func() error { return fn(gctx, pool, u) })
	}
	return g.Wait()
}

func execSQL(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

const (
	seedSetIdentity = `select set_config('app.user_id', $1, true)`
	seedUserRow     = `insert into users (id, email, name) values ($1, $1 || '@load.test', 'Load user') on conflict (id) do nothing`
	seedTodos       = `
insert into todos (title, description, completed)
select 'todo ' || g, case when g % 3 = 0 then 'details of todo ' || g end, g % 4 = 0
from generate_series(1, $1::int) g
returning id::text`
)

func seedUser(ctx context.Context, pool *pgxpool.Pool, u *user, m int) error {
	for done := 0; done < m || done == 0; {
		chunk := min(m-done, 1000)
		b := &pgx.Batch{}
		b.Queue(seedSetIdentity, u.id)
		b.Queue(seedUserRow, u.id)
		b.Queue(seedTodos, chunk).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					return err
				}
				id, err := parseTodoID([]byte(s))
				if err != nil {
					return err
				}
				u.add(id)
			}
			return rows.Err()
		})
		if err := pool.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if done += chunk; m == 0 {
			break
		}
	}
	return nil
}

// parseTodoID reads a canonical uuid (8-4-4-4-12 hex).
func parseTodoID(s []byte) (todoID, error) {
	var id todoID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, fmt.Errorf("not a uuid: %q", s)
	}
	var compact [32]byte
	n := 0
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		compact[n] = c
		n++
	}
	if _, err := hex.Decode(id[:], compact[:]); err != nil {
		return id, fmt.Errorf("not a uuid: %q", s)
	}
	return id, nil
}

func (id todoID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:], id[10:])
	return string(b[:])
}
