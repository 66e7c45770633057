package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/rowgate/rowgate/internal/todo"
)

// OrganizationStore is what GET /v1/organizations needs: the caller's
// memberships, read live.
type OrganizationStore interface {
	List(ctx context.Context, c todo.Caller) ([]todo.Organization, error)
}

type organizationHandlers struct{ store OrganizationStore }

// organizationJSON is the wire shape of one membership. This response is
// small and not on a hot path, so encoding/json writes it.
type organizationJSON struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

func (h organizationHandlers) list(c echo.Context) error {
	orgs, err := h.store.List(c.Request().Context(), caller(c))
	if err != nil {
		return err
	}
	body := struct {
		Items []organizationJSON `json:"items"`
	}{Items: make([]organizationJSON, len(orgs))}
	for i, o := range orgs {
		body.Items[i] = organizationJSON{ID: o.ID, Name: o.Name, Roles: o.Roles}
		if o.Roles == nil {
			body.Items[i].Roles = []string{}
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, b)
}
