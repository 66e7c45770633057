package app

import (
	"time"

	"github.com/rowgate/rowgate/internal/httpapi"
)

// samples is what /metrics reports about the service's dependencies.
func (a *App) samples() []httpapi.Sample {
	st := a.db.Stat()
	f := a.db.FaultStats()
	g := func(name, help string, v float64) httpapi.Sample {
		return httpapi.Sample{Name: name, Help: help, Value: v}
	}
	c := func(name, help string, v float64, labels ...string) httpapi.Sample {
		return httpapi.Sample{Name: name, Help: help, Counter: true, Value: v, Labels: labels}
	}
	const retries = "Batches sent again on a fresh connection, by why it was safe."
	const unavailable = "Requests answered 503 because of the database, by kind."
	k := a.verifier.KeyStats()
	const fetchFailures = "Failed JWKS fetches, by cause."
	out := a.routingSamples()
	return append(out, []httpapi.Sample{
		g("rowgate_jwks_loaded", "1 once a signing key set has loaded (it stays loaded through outages).", boolValue(k.Loaded)),
		g("rowgate_jwks_keys", "Usable keys in the current set.", float64(k.Keys)),
		c("rowgate_jwks_fetches_total", "JWKS fetch attempts.", float64(k.Fetches)),
		c("rowgate_jwks_fetch_failures_total", fetchFailures, float64(k.Failures.Network), "reason", "network"),
		c("rowgate_jwks_fetch_failures_total", fetchFailures, float64(k.Failures.Timeout), "reason", "timeout"),
		c("rowgate_jwks_fetch_failures_total", fetchFailures, float64(k.Failures.Status), "reason", "status"),
		c("rowgate_jwks_fetch_failures_total", fetchFailures, float64(k.Failures.Parse), "reason", "parse"),
		g("rowgate_jwks_consecutive_failures", "Failed JWKS fetches since the last success.", float64(k.ConsecutiveFailures)),
		g("rowgate_jwks_last_success_timestamp_seconds", "When the last JWKS fetch succeeded (0: never).", unixSeconds(k.LastSuccess)),
		g("rowgate_db_pool_acquired_conns", "Connections in use.", float64(st.AcquiredConns())),
		g("rowgate_db_pool_idle_conns", "Idle connections.", float64(st.IdleConns())),
		g("rowgate_db_pool_total_conns", "Open connections.", float64(st.TotalConns())),
		g("rowgate_db_pool_max_conns", "Maximum connections.", float64(st.MaxConns())),
		c("rowgate_db_pool_acquires_total", "Successful acquires.", float64(st.AcquireCount())),
		c("rowgate_db_pool_empty_acquires_total", "Acquires that had to wait for a connection.", float64(st.EmptyAcquireCount())),
		c("rowgate_db_pool_canceled_acquires_total", "Acquires cancelled while waiting.", float64(st.CanceledAcquireCount())),
		c("rowgate_db_pool_acquire_duration_seconds_total", "Time spent acquiring connections.", st.AcquireDuration().Seconds()),
		c("rowgate_db_retries_total", retries, float64(f.RetriesNotSent), "reason", "not_sent"),
		c("rowgate_db_retries_total", retries, float64(f.RetriesAborted), "reason", "aborted"),
		c("rowgate_db_retries_total", retries, float64(f.Replays), "reason", "replay_safe"),
		c("rowgate_db_unavailable_total", unavailable, float64(f.Unavailable), "kind", "unavailable"),
		c("rowgate_db_unavailable_total", unavailable, float64(f.Overloaded), "kind", "overloaded"),
		c("rowgate_db_unavailable_total", unavailable, float64(f.OutcomeUnknown), "kind", "outcome_unknown"),
		c("rowgate_db_dead_conns_discarded_total", "Pooled connections found dead before anything was sent on them.", float64(f.DeadConnsDiscarded)),
		c("rowgate_db_pooler_switches_total", "Switches to unnamed statements after a transaction pooler's errors.", float64(f.PoolerSwitches)),
	}...)
}

// routingSamples reports where reads went and each replica's state; none
// without replicas.
func (a *App) routingSamples() []httpapi.Sample {
	rs := a.db.Routing()
	if len(rs.Replicas) == 0 {
		return nil
	}
	const reads = "Reads served, by database server (primary, or a replica's host)."
	const fallbacks = "Reads sent to the primary although replicas are configured, by reason."
	out := []httpapi.Sample{
		{Name: "rowgate_db_reads_total", Help: reads, Counter: true, Value: float64(rs.PrimaryReads), Labels: []string{"target", "primary"}},
		{Name: "rowgate_db_replica_floors", Help: "Callers whose last write some replica in rotation has not replayed yet.", Value: float64(rs.Floors)},
	}
	for reason, n := range rs.Fallbacks {
		out = append(out, httpapi.Sample{Name: "rowgate_db_replica_fallbacks_total", Help: fallbacks, Counter: true, Value: float64(n), Labels: []string{"reason", reason}})
	}
	for _, r := range rs.Replicas {
		out = append(out,
			httpapi.Sample{Name: "rowgate_db_reads_total", Help: reads, Counter: true, Value: float64(r.Reads), Labels: []string{"target", r.Name}},
			httpapi.Sample{Name: "rowgate_db_replica_lag_seconds", Help: "How far each replica's replay is behind the primary.", Value: r.Lag.Seconds(), Labels: []string{"replica", r.Name}},
			httpapi.Sample{Name: "rowgate_db_replica_in_rotation", Help: "1 while a replica takes reads.", Value: boolValue(r.InRotation), Labels: []string{"replica", r.Name}},
		)
	}
	return out
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
