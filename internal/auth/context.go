package auth

import (
	"context"

	"github.com/rowgate/rowgate/internal/todo"
)

type callerKey struct{}

// WithCaller returns a copy of ctx carrying c. Middleware uses it after a
// token verifies; tests use it to stand in for the middleware.
func WithCaller(ctx context.Context, c todo.Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the Caller WithCaller stored in ctx. ok is false when
// there is none or its ID is empty, so a handler can never act for an
// anonymous caller by accident.
func CallerFrom(ctx context.Context) (c todo.Caller, ok bool) {
	c, ok = ctx.Value(callerKey{}).(todo.Caller)
	if !ok || c.ID == "" {
		return todo.Caller{}, false
	}
	return c, true
}
