package httpapi

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/todo"
)

func benchPage() todo.Page {
	now := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)
	p := todo.Page{Next: &todo.Cursor{CreatedAt: now, ID: "0193a2b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b"}}
	for i := 0; i < 20; i++ {
		desc := fmt.Sprintf("details of todo %d, with some words to make it realistic", i)
		p.Items = append(p.Items, todo.Todo{
			ID: fmt.Sprintf("0193a2b4-c5d6-4e7f-8a9b-0c1d2e3f4a%02d", i), UserID: "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY",
			Title: fmt.Sprintf("todo number %d", i), Description: &desc, Completed: i%3 == 0,
			CreatedAt: now.Add(-time.Duration(i) * time.Minute), UpdatedAt: now,
		})
	}
	return p
}

// BenchmarkEncodeListPage is the hand-written encoder of a 20-todo page.
func BenchmarkEncodeListPage(b *testing.B) {
	p := benchPage()
	b.ReportAllocs()
	for b.Loop() {
		buf := getBuf()
		*buf = appendPage(*buf, &p, &todo.ListQuery{})
		putBuf(buf)
	}
}

// BenchmarkEncodeListPageStdlib is the same page through encoding/json,
// the baseline the hand-written encoder is measured against, using the
// wire-shape mirror of encode_test.go.
func BenchmarkEncodeListPageStdlib(b *testing.B) {
	p := benchPage()
	b.ReportAllocs()
	for b.Loop() {
		out := pageMirror{Items: make([]todoMirror, len(p.Items))}
		for i := range p.Items {
			m := mirrorTodo(&p.Items[i])
			m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
			out.Items[i] = m
		}
		c := encodeCursor(*p.Next, nil, nil)
		out.NextCursor = &c
		if _, err := json.Marshal(out); err != nil {
			b.Fatal(err)
		}
	}
}
