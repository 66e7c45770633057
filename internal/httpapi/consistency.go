package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/rowgate/rowgate/internal/todo"
)

// headerConsistencyToken carries read-your-writes between a client and
// any rowgate instance: every successful write answers with one, and a
// read that sends it back is served only by a database server that has
// that write. It is opaque; a malformed one is not an error (the read goes
// to the primary).
const headerConsistencyToken = "Consistency-Token"

// withConsistency puts the request's Consistency-Token in its context for
// the database layer, and sends the token a write leaves there with the
// response (set just before the headers go out). A read without a token
// has nothing to carry, and skips the copy of the request.
func withConsistency(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		in := req.Header.Get(headerConsistencyToken)
		if in == "" && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
			return next(c)
		}
		cons := &todo.Consistency{In: in}
		if len(cons.In) > 64 {
			cons.In = "-" // far longer than any token: unknown, so the primary answers
		}
		c.SetRequest(req.WithContext(todo.WithConsistency(req.Context(), cons)))
		c.Response().Before(func() {
			if cons.Out != "" {
				c.Response().Header().Set(headerConsistencyToken, cons.Out)
			}
		})
		return next(c)
	}
}
