// Package tests holds rowgate's tests that span packages: the row level
// security policy matrix run as real database logins, and the catalog checks
// that keep a future table from slipping in unprotected.
package tests

import (
	"testing"

	"github.com/rowgate/rowgate/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
