package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/rowgate/rowgate/internal/todo"
)

// TodoStore is what the todo handlers need. Every method answers for the
// caller only; todo.ErrNotFound covers rows the caller may not see.
type TodoStore interface {
	List(ctx context.Context, c todo.Caller, q todo.ListQuery) (todo.Page, error)
	Get(ctx context.Context, c todo.Caller, id string) (todo.Todo, error)
	Create(ctx context.Context, c todo.Caller, n todo.NewTodo) (todo.Todo, error)
	// CreateOnce creates at most once per caller and key; a retry with the
	// same request replays the first todo, another request is
	// todo.ErrKeyReused.
	CreateOnce(ctx context.Context, c todo.Caller, n todo.NewTodo, key string) (t todo.Todo, replayed bool, err error)
	Update(ctx context.Context, c todo.Caller, id string, p todo.TodoPatch, ifMatch *time.Time) (todo.Todo, error)
	Delete(ctx context.Context, c todo.Caller, id string, ifMatch *time.Time) error
}

var (
	newTodoFields   = []string{"title", "description", "completed", "organization_id"}
	todoPatchFields = []string{"title", "description", "completed", "organization_id"}
)

type todoHandlers struct{ store TodoStore }

func (h todoHandlers) list(c echo.Context) error {
	q, err := parseListQuery(c.QueryParams())
	if err != nil {
		return err
	}
	page, err := h.store.List(c.Request().Context(), caller(c), q)
	if err != nil {
		return err
	}
	buf := getBuf()
	defer putBuf(buf)
	*buf = appendPage(*buf, &page, &q)
	return writeJSON(c, http.StatusOK, *buf)
}

func (h todoHandlers) get(c echo.Context) error {
	id, err := parseID(c.Param("id"))
	if err != nil {
		return err
	}
	t, err := h.store.Get(c.Request().Context(), caller(c), id)
	if err != nil {
		return err
	}
	tag := etag(t.UpdatedAt)
	if inm := c.Request().Header.Get("If-None-Match"); inm != "" && notModified(inm, tag) {
		c.Response().Header().Set("ETag", tag)
		return c.NoContent(http.StatusNotModified)
	}
	return writeTodo(c, http.StatusOK, &t)
}

func (h todoHandlers) create(c echo.Context) error {
	b, err := readBody(c, newTodoFields, echo.MIMEApplicationJSON)
	if err != nil {
		return err
	}
	n, err := newTodoFrom(b)
	if err != nil {
		return err
	}
	key, keyed, err := idempotencyKey(c.Request().Header)
	if err != nil {
		return err
	}
	var t todo.Todo
	var replayed bool
	if keyed {
		t, replayed, err = h.store.CreateOnce(c.Request().Context(), caller(c), n, key)
	} else {
		t, err = h.store.Create(c.Request().Context(), caller(c), n)
	}
	if err != nil {
		return err
	}
	if replayed {
		c.Response().Header().Set(headerIdempotentReplayed, "true")
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/todos/"+t.ID)
	return writeTodo(c, http.StatusCreated, &t)
}

func (h todoHandlers) update(c echo.Context) error {
	id, ifMatch, err := conditionalTarget(c)
	if err != nil {
		return err
	}
	b, err := readBody(c, todoPatchFields, echo.MIMEApplicationJSON, "application/merge-patch+json")
	if err != nil {
		return err
	}
	p, err := todoPatchFrom(b)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var t todo.Todo
	if p.Empty() {
		// Nothing to change: answer the current state, still honouring
		// If-Match, without bumping updated_at.
		t, err = h.store.Get(ctx, caller(c), id)
		if err == nil && ifMatch != nil && !ifMatch.Equal(t.UpdatedAt) {
			err = todo.ErrPreconditionFailed
		}
	} else {
		t, err = h.store.Update(ctx, caller(c), id, p, ifMatch)
	}
	if err != nil {
		return err
	}
	return writeTodo(c, http.StatusOK, &t)
}

func (h todoHandlers) delete(c echo.Context) error {
	id, ifMatch, err := conditionalTarget(c)
	if err != nil {
		return err
	}
	if err := h.store.Delete(c.Request().Context(), caller(c), id, ifMatch); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// conditionalTarget reads what a write needs first: the todo id from the
// path (404 when malformed) and the If-Match precondition (400 when
// malformed).
func conditionalTarget(c echo.Context) (string, *time.Time, error) {
	id, err := parseID(c.Param("id"))
	if err != nil {
		return "", nil, err
	}
	ifMatch, err := parseIfMatch(c.Request().Header.Get("If-Match"))
	return id, ifMatch, err
}

func writeTodo(c echo.Context, status int, t *todo.Todo) error {
	c.Response().Header().Set("ETag", etag(t.UpdatedAt))
	buf := getBuf()
	defer putBuf(buf)
	*buf = appendTodo(*buf, t)
	return writeJSON(c, status, *buf)
}

func newTodoFrom(b body) (todo.NewTodo, error) {
	title, present, err := b.str("title", false)
	if err != nil {
		return todo.NewTodo{}, err
	}
	if !present {
		return todo.NewTodo{}, errValidation("title", "is required")
	}
	desc, _, err := b.str("description", true)
	if err != nil {
		return todo.NewTodo{}, err
	}
	completed, err := b.boolean("completed")
	if err != nil {
		return todo.NewTodo{}, err
	}
	org, _, err := b.str("organization_id", true)
	if err != nil {
		return todo.NewTodo{}, err
	}
	n := todo.NewTodo{Title: *title, Description: desc, Completed: completed != nil && *completed, OrganizationID: org}
	return n, n.Validate()
}

func todoPatchFrom(b body) (todo.TodoPatch, error) {
	var p todo.TodoPatch
	var err error
	if p.Title, _, err = b.str("title", false); err != nil {
		return p, err
	}
	if p.Description, p.DescriptionSet, err = b.str("description", true); err != nil {
		return p, err
	}
	if p.Completed, err = b.boolean("completed"); err != nil {
		return p, err
	}
	if p.OrganizationID, p.OrganizationIDSet, err = b.str("organization_id", true); err != nil {
		return p, err
	}
	return p, p.Validate()
}
