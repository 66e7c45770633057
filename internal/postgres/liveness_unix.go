//go:build unix

package postgres

import (
	"net"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// alive reports whether a pooled connection still looks usable, without
// sending anything: one non-blocking peek at its socket. An idle
// PostgreSQL connection has nothing to read, so pending bytes (the FATAL a
// terminated backend sends before it closes), end of file or a reset all
// mean the server side is gone. Sending a batch on such a connection would
// leave its outcome unknown; discarding it first keeps the batch safe to
// send elsewhere. It costs one system call per acquire.
//
// A connection that died silently (a network partition, no FIN or RST)
// still looks alive here; pgxpool's ping of connections idle for more than
// a second and the request deadline cover that case.
func alive(c *pgx.Conn) bool {
	nc := c.PgConn().Conn()
	if t, ok := nc.(interface{ NetConn() net.Conn }); ok { // TLS
		nc = t.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true // a wrapped connection (tests): nothing to peek at
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	// Control, not Read: pgconn's background reader may sit in a blocking
	// read on an idle connection, holding the read lock. A non-blocking
	// peek needs no lock and consumes nothing. (Bytes the background
	// reader already took surface when the batch reads its results: a
	// server error before any result, which aborts nothing it sent.)
	err = raw.Control(func(fd uintptr) {
		var b [1]byte
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Only "would block" means an empty, open socket. Anything else is
		// a reset, end of file (n == 0) or unsolicited bytes (n > 0).
		ok = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
	})
	return ok && err == nil
}
