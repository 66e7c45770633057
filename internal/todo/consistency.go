package todo

import "context"

// Consistency carries read-your-writes through one request. In is the
// Consistency-Token the client sent, opaque to everything but the
// database layer; Out is the token the database layer sets after a
// write, for the response. The HTTP layer puts one in every request's
// context; the database layer reads and fills it.
type Consistency struct {
	In  string
	Out string
}

type consistencyKey struct{}

// WithConsistency returns a copy of ctx carrying c.
func WithConsistency(ctx context.Context, c *Consistency) context.Context {
	return context.WithValue(ctx, consistencyKey{}, c)
}

// ConsistencyFrom returns the Consistency of ctx, or nil.
func ConsistencyFrom(ctx context.Context) *Consistency {
	c, _ := ctx.Value(consistencyKey{}).(*Consistency)
	return c
}
