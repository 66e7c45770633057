// Package devdb boots a throwaway PostgreSQL cluster from the server binaries
// installed on the machine: initdb into a temporary folder, a unix socket in
// that folder, fsync off. `rowgate dev` and the test harness use it; nothing
// in it is meant for production.
//
// PostgreSQL refuses to run as root. When the caller is root, the cluster is
// initialised and run as an unprivileged account ("postgres", or "nobody"
// when that does not exist), and the temporary folder is handed to it.
package devdb
