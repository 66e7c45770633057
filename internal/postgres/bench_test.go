package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rowgate/rowgate/internal/postgres"
	"github.com/rowgate/rowgate/internal/todo"
)

// BenchmarkTxHelper measures the one door with a realistic statement: a
// 20-todo list page for a known user (set_config + list, one round trip).
func BenchmarkTxHelper(b *testing.B) {
	for _, mode := range []string{"cache_statement", "cache_describe"} {
		b.Run(mode, func(b *testing.B) {
			tdb := pgtestNewDB(b)
			db, err := postgres.Open(context.Background(), postgres.Config{URL: tdb + "&default_query_exec_mode=" + mode})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := db.CheckRole(context.Background()); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			callers := make([]todo.Caller, 8)
			for i := range callers {
				callers[i] = todo.Caller{ID: fmt.Sprintf("bench%027d", i)}
				for j := 0; j < 25; j++ {
					if _, err := db.Todos().Create(ctx, callers[i], todo.NewTodo{Title: fmt.Sprintf("todo %d", j)}); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					page, err := db.Todos().List(ctx, callers[i%len(callers)], todo.ListQuery{Limit: 20})
					if err != nil || len(page.Items) != 20 {
						b.Errorf("list: %d items, %v", len(page.Items), err)
						return
					}
					i++
				}
			})
		})
	}
}
