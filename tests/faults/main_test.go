// Package faults proves rowgate through the faults its users meet: a
// PostgreSQL that restarts, crashes or is not there yet, every backend
// terminated at once (a Neon suspend, a pooler's server_lifetime, a
// failover), a transaction pooler on a port nothing could guess from, an
// identity provider that is down, a pool that runs dry; and streaming
// replicas: read-your-writes with replay paused, reads that outlive the
// primary, and failover to a promoted standby. Each test starts
// and stops real processes (PostgreSQL from the installed binaries,
// Debian's PgBouncer, an HTTP JWKS server) and counts what the clients
// saw: status codes by class, and rows in the database against the ids
// the clients were acknowledged.
//
// Every test that restarts or stops PostgreSQL boots a cluster of its own
// (pgtest.NewClusterDB), with synchronous_commit on, so an acknowledged
// write survives a kill -9.
package faults

import (
	"testing"

	"github.com/rowgate/rowgate/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
