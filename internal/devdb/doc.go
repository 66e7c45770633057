// Package devdb boots a throwaway PostgreSQL cluster from the server binaries
// installed on the machine: initdb into a temporary folder, a unix socket in
// that folder, fsync off. `rowgate dev` and the test harnesses use it;
// nothing in it is meant for production. It uses the standard library only:
// it drives the server's own tools (initdb, postgres, pg_basebackup, psql).
//
// PostgreSQL refuses to run as root. When the caller is root, the cluster is
// initialised and run as an unprivileged account ("postgres", or "nobody"
// when that does not exist), and the temporary folder is handed to it. Every
// server gets SIGINT (a fast shutdown) when the process that started it
// dies.
//
// # Lifecycle
//
// Start creates a cluster and starts its server; Stop shuts it down and
// removes its folder. In between, a test can take the server down and bring
// it back on the same data directory, port and socket, so URLs stay valid:
//
//	d, err := c.Restart(ctx, devdb.ShutdownFast)      // pg_ctl restart -m fast (SIGINT)
//	d, err := c.Restart(ctx, devdb.ShutdownImmediate) // -m immediate (SIGQUIT): crash recovery on start
//	err = c.Crash()                                   // kill -9 of the postmaster, waits for its children
//	err = c.StopServer(ctx, devdb.ShutdownFast)       // down for as long as the test likes...
//	err = c.StartServer(ctx)                          // ...then back, after crash recovery if needed
//
// Restart reports its Downtime: when the signal was sent and when the new
// server accepted connections. StartServer and Restart return only once the
// server accepts connections.
//
// # Durability: Options.Durable
//
// By default a cluster runs with fsync, full_page_writes and
// synchronous_commit off, for speed. With synchronous_commit off a commit is
// acknowledged before its WAL leaves PostgreSQL's shared memory (the WAL
// writer flushes it up to 3×200ms later), so Crash loses the last
// acknowledged commits: measured here, 15 of 300 single-row commits made
// just before a kill -9. A test about acknowledged writes surviving a crash,
// or about synchronous replication (which only waits when synchronous_commit
// is on), sets Options.Durable: synchronous_commit on and full_page_writes
// on. fsync may stay off because a test kills processes, not the machine:
// what was written to the kernel survives a process's death.
//
// # Streaming replication
//
// StartStandby makes a hot standby of a primary with pg_basebackup -R over
// the primary's socket, optionally with a replication slot and an
// application_name (the name synchronous_standby_names uses), and returns
// once it streams and has caught up. On a standby: ReplayLSN, WaitForReplay,
// PauseReplay and ResumeReplay (pg_wal_replay_pause/resume, waiting until
// the state is reached), Promote (returns once it accepts writes), and
// Follow (re-point it at a promoted standby after a failover). On a primary:
// CurrentLSN and SetSynchronousStandbys. SQL runs any statement as the
// superuser through psql. MultiHostURL lists several clusters in one URL
// with target_session_attrs=read-write: pgx (pgconn.ParseConfig) and libpq
// try the hosts in order and keep the first that is not read-only
// ("show transaction_read_only"), so after a failover new connections reach
// the promoted standby. pgx checks that only when it connects: a connection
// it already holds keeps its server, so one to a server that has turned
// read-only answers writes with 25006 (read_only_sql_transaction), and one
// to a crashed primary fails.
package devdb
