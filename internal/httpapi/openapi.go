package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDoc is the OpenAPI 3.1 description of every route; openapi_test.go
// keeps it equal to the router.
//
//go:embed openapi.json
var openAPIDoc []byte

func openAPI(c echo.Context) error {
	return writeJSON(c, http.StatusOK, openAPIDoc)
}
