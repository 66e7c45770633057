package devdb

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// ServerCredential returns nil when the process may run PostgreSQL itself.
// As root it returns the credential of an unprivileged account ("postgres",
// else "nobody") and hands dir to that account, since PostgreSQL refuses to
// run as root (and so does PgBouncer). Every cluster devdb starts runs so.
func ServerCredential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var u *user.User
	var err error
	for _, name := range []string{"postgres", "nobody"} {
		if u, err = user.Lookup(name); err == nil {
			break
		}
	}
	if u == nil {
		return nil, fmt.Errorf("devdb: running as root, and no unprivileged account (postgres or nobody) to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("devdb: hand %s to %s: %w", dir, u.Username, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}
