package auth

import (
	"context"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/todo"
)

func benchVerifier(b *testing.B, cacheSize int) (*Verifier, string) {
	k, err := LoadOrCreateDevKey(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	v, err := NewVerifier(context.Background(), Config{
		JWKSFile: k.JWKSPath(), Issuer: testIssuer, Audience: testAudience, CacheSize: cacheSize,
	})
	if err != nil {
		b.Fatal(err)
	}
	token, err := k.Mint(todo.Caller{ID: "user-1", Email: "ada@example.com", Name: "Ada"}, testIssuer, testAudience, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return v, token
}

// BenchmarkVerify is full EdDSA verification: the cache is off.
func BenchmarkVerify(b *testing.B) {
	v, token := benchVerifier(b, -1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached is a cache hit, from parallel goroutines.
func BenchmarkVerifyCached(b *testing.B) {
	v, token := benchVerifier(b, 0)
	ctx := context.Background()
	if _, err := v.Verify(ctx, token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
}
