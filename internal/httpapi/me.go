package httpapi

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/todo"
)

// UserStore is what the /v1/me handlers need: the caller's own row only.
type UserStore interface {
	Me(ctx context.Context, c todo.Caller) (todo.User, error)
	UpdateMe(ctx context.Context, c todo.Caller, p todo.UserPatch) (todo.User, error)
	DeleteMe(ctx context.Context, c todo.Caller) error
}

var userPatchFields = []string{"name"}

type meHandlers struct{ store UserStore }

func (h meHandlers) get(c echo.Context) error {
	u, err := h.store.Me(c.Request().Context(), caller(c))
	if err != nil {
		return err
	}
	return writeUser(c, &u)
}

func (h meHandlers) update(c echo.Context) error {
	b, err := readBody(c, userPatchFields, echo.MIMEApplicationJSON, "application/merge-patch+json")
	if err != nil {
		return err
	}
	var p todo.UserPatch
	if p.Name, p.NameSet, err = b.str("name", true); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	u, err := h.store.UpdateMe(c.Request().Context(), caller(c), p)
	if err != nil {
		return err
	}
	return writeUser(c, &u)
}

func (h meHandlers) delete(c echo.Context) error {
	if err := h.store.DeleteMe(c.Request().Context(), caller(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func writeUser(c echo.Context, u *todo.User) error {
	buf := getBuf()
	defer putBuf(buf)
	*buf = appendUser(*buf, u)
	return writeJSON(c, http.StatusOK, *buf)
}

// caller returns the verified caller the auth middleware stored. Routes
// that reach a handler always have one; if not, the empty Caller makes the
// database layer refuse (fail closed).
func caller(c echo.Context) todo.Caller {
	cl, _ := auth.CallerFrom(c.Request().Context())
	return cl
}
