package devdb

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// StandbyOptions tunes a streaming standby.
type StandbyOptions struct {
	// Options of the standby itself: its folder, TCP port and settings. It
	// starts with its primary's settings (max_connections and the like must
	// not be lower than the primary's), overridden by these.
	Options
	// Slot, when set, creates a physical replication slot of that name on
	// the primary (pg_basebackup -C -S), so the primary keeps the WAL the
	// standby has not received yet.
	Slot string
	// ApplicationName is the standby's application_name in
	// primary_conninfo: the name synchronous_standby_names and
	// pg_stat_replication know it by. Empty: PostgreSQL's default,
	// "walreceiver". Letters, digits and underscores only.
	ApplicationName string
}

var simpleName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// StartStandby makes a hot standby of primary: pg_basebackup -R over the
// primary's unix socket (initdb --auth=trust allows local replication), in
// its own folder with its own port and socket, run as the primary is. It
// returns once the standby accepts read-only connections, streams from the
// primary, and has replayed what the primary had written when it started.
// Stop it like any cluster.
func StartStandby(ctx context.Context, primary *Cluster, opts StandbyOptions) (*Cluster, error) {
	for _, name := range []string{opts.Slot, opts.ApplicationName} {
		if name != "" && !simpleName.MatchString(name) {
			return nil, fmt.Errorf("devdb: standby name %q: letters, digits and underscores only", name)
		}
	}
	c, err := newCluster(opts.Options, primary.settings)
	if err != nil {
		return nil, err
	}
	c.settings["hot_standby"] = "on"
	c.appName = opts.ApplicationName
	if err := c.basebackup(ctx, primary, opts.Slot); err != nil {
		os.RemoveAll(c.Dir)
		return nil, err
	}
	if err := c.StartServer(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	if err := c.waitStreamingFrom(ctx, primary); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// basebackup copies primary's data directory into c's, writing
// standby.signal and primary_conninfo (-R).
func (c *Cluster) basebackup(ctx context.Context, primary *Cluster, slot string) error {
	args := []string{"-D", c.dataDir(), "-d", c.conninfo(primary), "-R",
		"-X", "stream", "--checkpoint=fast", "--no-sync"}
	if slot != "" {
		args = append(args, "-C", "-S", slot)
	}
	if out, err := c.run(ctx, "pg_basebackup", args...); err != nil {
		return fmt.Errorf("devdb: pg_basebackup: %w\n%s", err, out)
	}
	return nil
}

// conninfo is how c reaches primary: its unix socket, as the superuser.
func (c *Cluster) conninfo(primary *Cluster) string {
	s := fmt.Sprintf("host=%s port=%d user=%s", conninfoValue(primary.Dir), primary.Port, Superuser)
	if c.appName != "" {
		s += " application_name=" + c.appName
	}
	return s
}

// conninfoValue quotes v for a libpq keyword/value string.
func conninfoValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// sqlLiteral quotes v as an SQL string literal.
func sqlLiteral(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }

// waitStreamingFrom waits until c's WAL receiver streams from primary and
// c has replayed primary's current WAL position.
func (c *Cluster) waitStreamingFrom(ctx context.Context, primary *Cluster) error {
	want := fmt.Sprintf("streaming|%s|%d", primary.Dir, primary.Port)
	err := c.poll(ctx, "streaming from "+primary.Dir,
		"select status, sender_host, sender_port from pg_stat_wal_receiver",
		func(out string) bool { return out == want })
	if err != nil {
		return err
	}
	lsn, err := primary.CurrentLSN(ctx)
	if err != nil {
		return err
	}
	return c.WaitForReplay(ctx, lsn)
}

// CurrentLSN returns a primary's current WAL write position
// (pg_current_wal_lsn). On a standby it is an error.
func (c *Cluster) CurrentLSN(ctx context.Context) (LSN, error) {
	return c.queryLSN(ctx, "select pg_current_wal_lsn()")
}

// ReplayLSN returns the position a standby has replayed up to
// (pg_last_wal_replay_lsn). On a primary that never was a standby it is an
// error.
func (c *Cluster) ReplayLSN(ctx context.Context) (LSN, error) {
	return c.queryLSN(ctx, "select pg_last_wal_replay_lsn()")
}

// WaitForReplay waits until a standby has replayed lsn, or ctx ends.
func (c *Cluster) WaitForReplay(ctx context.Context, lsn LSN) error {
	return c.poll(ctx, "replay of "+lsn.String(),
		"select pg_last_wal_replay_lsn() >= "+sqlLiteral(lsn.String())+"::pg_lsn",
		func(out string) bool { return out == "t" })
}

// PauseReplay pauses WAL replay on a standby (pg_wal_replay_pause) and waits
// until replay has actually stopped. WAL still arrives, so
// pg_stat_replication on the primary keeps advancing while ReplayLSN does
// not.
func (c *Cluster) PauseReplay(ctx context.Context) error {
	if _, err := c.SQL(ctx, "select pg_wal_replay_pause()"); err != nil {
		return err
	}
	return c.poll(ctx, "replay to pause", "select pg_get_wal_replay_pause_state()",
		func(out string) bool { return out == "paused" })
}

// ResumeReplay resumes WAL replay on a standby (pg_wal_replay_resume) and
// waits until it is no longer paused.
func (c *Cluster) ResumeReplay(ctx context.Context) error {
	if _, err := c.SQL(ctx, "select pg_wal_replay_resume()"); err != nil {
		return err
	}
	return c.poll(ctx, "replay to resume", "select pg_get_wal_replay_pause_state()",
		func(out string) bool { return out == "not paused" })
}

// Promote turns a standby into a primary (pg_promote) and waits until it is
// out of recovery and accepts writes. Its timeline changes; other standbys
// can Follow it.
func (c *Cluster) Promote(ctx context.Context) error {
	out, err := c.SQL(ctx, "select pg_promote(true, 600)")
	if err != nil {
		return err
	}
	if out != "t" {
		return fmt.Errorf("devdb: pg_promote did not complete\n%s", c.LogTail())
	}
	return c.poll(ctx, "the end of recovery", "select pg_is_in_recovery()",
		func(out string) bool { return out == "f" })
}

// Follow points a standby at another primary, typically a standby promoted
// after its old primary died: it sets primary_conninfo by ALTER SYSTEM
// (keeping the standby's application_name), drops primary_slot_name,
// reloads (PostgreSQL 13+ needs no restart), and waits until the standby
// streams from primary and has replayed its current position. It fails (ctx
// ends) if the standby had replayed past the point where primary's timeline
// forked; start a fresh standby from primary then.
func (c *Cluster) Follow(ctx context.Context, primary *Cluster) error {
	stmts := []string{
		"alter system set primary_conninfo = " + sqlLiteral(c.conninfo(primary)),
		"alter system reset primary_slot_name",
		"select pg_reload_conf()",
	}
	for _, stmt := range stmts {
		if _, err := c.SQL(ctx, stmt); err != nil {
			return err
		}
	}
	return c.waitStreamingFrom(ctx, primary)
}

// SetSynchronousStandbys sets synchronous_standby_names on a primary to
// FIRST 1 (names...) by ALTER SYSTEM and reloads; no names turns
// synchronous replication off. It returns once every new commit waits for
// the standby (with synchronous_commit on: see Options.Durable) and, when
// names are given, once one of them is streaming as the synchronous
// standby: start those standbys first, or ctx ends.
func (c *Cluster) SetSynchronousStandbys(ctx context.Context, names ...string) error {
	value := ""
	if len(names) > 0 {
		for _, n := range names {
			if !simpleName.MatchString(n) {
				return fmt.Errorf("devdb: standby name %q: letters, digits and underscores only", n)
			}
		}
		value = "FIRST 1 (" + strings.Join(names, ", ") + ")"
	}
	if _, err := c.SQL(ctx, "alter system set synchronous_standby_names = "+sqlLiteral(value)); err != nil {
		return err
	}
	if _, err := c.SQL(ctx, "select pg_reload_conf()"); err != nil {
		return err
	}
	// A new session forks from a postmaster that has reloaded, and so has
	// signalled the checkpointer; the checkpointer reloads before it starts
	// the requested checkpoint, and only then publishes to every backend
	// whether commits wait for a standby.
	err := c.poll(ctx, "the new synchronous_standby_names", "show synchronous_standby_names",
		func(out string) bool { return out == value })
	if err == nil {
		_, err = c.SQL(ctx, "checkpoint")
	}
	if err != nil || len(names) == 0 {
		return err
	}
	return c.poll(ctx, "a synchronous standby", "select count(*) from pg_stat_replication where sync_state = 'sync'",
		func(out string) bool { return out != "0" })
}

// MultiHostURL returns one connection URL listing every cluster, in order,
// with target_session_attrs=read-write: a client (pgx, libpq) tries them in
// turn and keeps the first that accepts writes, which after a failover is
// the promoted standby. Over TCP when every cluster has it
// (postgres://user@127.0.0.1:p1,127.0.0.1:p2/db?...), else over their unix
// sockets (host=/d1,/d2&port=p1,p2).
func MultiHostURL(user, database string, clusters ...*Cluster) string {
	q := url.Values{"sslmode": {"disable"}, "target_session_attrs": {"read-write"}}
	u := url.URL{Scheme: "postgres", User: url.User(user), Path: "/" + database}
	var hosts, dirs, ports []string
	tcp := true
	for _, c := range clusters {
		tcp = tcp && c.TCP
		hosts = append(hosts, net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)))
		dirs = append(dirs, c.Dir)
		ports = append(ports, strconv.Itoa(c.Port))
	}
	if tcp {
		u.Host = strings.Join(hosts, ",")
	} else {
		q.Set("host", strings.Join(dirs, ","))
		q.Set("port", strings.Join(ports, ","))
	}
	u.RawQuery = q.Encode()
	return u.String()
}
