package auth

// The timing of the remote JWKS source, on synctest's fake clock with an
// in-memory endpoint (idp as RoundTripper): hours pass in microseconds and
// every bound is checked exactly. outage_test.go runs the same faults
// against a real HTTP server in real time.

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestRemoteStartupRetriesUntilReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newTestKey(t, "EdDSA", "key-a")
		p := newIdP(t, nil)
		p.refuseConns()
		logs := &logRecorder{}
		start := time.Now()
		v := bubbleVerifier(t, p, func(c *Config) { c.Logger = slog.New(logs) })
		if d := time.Since(start); d > 0 {
			t.Fatalf("NewVerifier took %s against a refusing endpoint, want no wait", d)
		}
		err := v.Ready()
		if !errors.Is(err, ErrKeysUnavailable) ||
			!strings.HasPrefix(err.Error(), "signing keys (JWKS "+bubbleURL+"): network: ") ||
			!strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("Ready() = %v, want ErrKeysUnavailable naming the URL and the refusal", err)
		}
		token := a.mint(t, claims(time.Now()))
		if _, err := v.Verify(context.Background(), token); !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Verify before keys: err = %v, want ErrKeysUnavailable and ErrInvalidToken", err)
		}

		// Down for 30 s: retries back off from 100 ms to 1 s (each delay
		// jittered to [d/2, d]), so between 33 and 63 attempts in all.
		time.Sleep(30 * time.Second)
		if n := v.KeyStats().Fetches; n < 33 || n > 63 {
			t.Fatalf("%d fetch attempts in 30 s of outage, want 33..63 (backoff 100 ms to 1 s)", n)
		}
		if n := logs.count(slog.LevelError, "auth: JWKS unavailable"); n != 1 {
			t.Fatalf("%d error lines for one outage, want 1 (state changes only)", n)
		}

		p.serve(http.StatusOK, jwksJSON(t, a))
		up := time.Now()
		for v.Ready() != nil {
			time.Sleep(10 * time.Millisecond)
		}
		if d := time.Since(up); d > startRetryMax {
			t.Fatalf("ready %s after the endpoint answered, want at most %s", d, startRetryMax)
		}
		mustVerify(t, v, a.mint(t, claims(time.Now())), "token after recovery")
		if n := logs.count(slog.LevelInfo, "auth: JWKS loaded"); n != 1 {
			t.Fatalf("%d 'JWKS loaded' lines, want 1", n)
		}
	})
}

// outage is one way a JWKS endpoint can fail.
type outage struct {
	name  string
	apply func(p *idp)
}

// outages are the faults the timing tests run for hours of fake time. A
// body over maxJWKSBytes is left to the real-network tests: copying a
// megabyte per retry for hours only slows the race detector down.
var outages = []outage{
	{"Refused", func(p *idp) { p.refuseConns() }},
	{"ServerError", func(p *idp) { p.serve(http.StatusServiceUnavailable, []byte("down")) }},
	{"HTMLBody", func(p *idp) { p.serve(http.StatusOK, []byte("<html>maintenance</html>")) }},
	{"EmptyBody", func(p *idp) { p.serve(http.StatusOK, nil) }},
	{"EmptyKeySet", func(p *idp) { p.serve(http.StatusOK, []byte(`{"keys":[]}`)) }},
	{"OnlyHMACKeys", func(p *idp) {
		p.serve(http.StatusOK, []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256","kid":"key-a"}]}`))
	}},
	{"Hanging", func(p *idp) { p.hangUp() }},
}

func TestRemoteOutageOfHoursKeepsKnownKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newTestKey(t, "EdDSA", "key-a")
		p := newIdP(t, jwksJSON(t, a))
		logs := &logRecorder{}
		v := bubbleVerifier(t, p, func(c *Config) { c.Logger = slog.New(logs) })
		start := time.Now()
		for _, o := range outages { // an hour each: eight hours in all
			o.apply(p)
			for i := range 12 {
				time.Sleep(5 * time.Minute)
				before := time.Now()
				mustVerify(t, v, a.mint(t, claims(time.Now())), o.name+": known kid")
				if time.Since(before) != 0 {
					t.Fatalf("%s: a known kid waited %s", o.name, time.Since(before))
				}
				_, err := v.Verify(context.Background(), unknownKid(t, a, "new-"+o.name+string(rune('a'+i))))
				if !isUnknownKid(err) {
					t.Fatalf("%s: unknown kid: err = %v, want the invalid-token error for an unknown kid", o.name, err)
				}
				if d := time.Since(before); d > DefaultRefreshWait {
					t.Fatalf("%s: unknown kid answered after %s, want at most %s", o.name, d, DefaultRefreshWait)
				}
			}
		}
		s := v.KeyStats()
		if !s.Loaded || s.Keys != 1 || s.Failures.Network == 0 || s.Failures.Status == 0 ||
			s.Failures.Parse == 0 || s.Failures.Timeout == 0 {
			t.Fatalf("stats after the outages: %+v, want a loaded set and failures of every class", s)
		}
		// Rate limit: one attempt per DefaultMinRefreshInterval at most, and
		// the background keeps trying (at least one per cap plus a timeout).
		hours := time.Since(start)
		if most := uint64(hours/DefaultMinRefreshInterval) + 1; s.Fetches > most {
			t.Fatalf("%d fetches in %s, want at most %d", s.Fetches, hours, most)
		}
		if least := uint64(hours / (DefaultMaxRetryInterval + DefaultFetchTimeout)); s.Fetches < least {
			t.Fatalf("%d fetches in %s, want at least %d", s.Fetches, hours, least)
		}
		if w, e := logs.count(slog.LevelWarn, "auth: JWKS fetch failing"), logs.count(slog.LevelError, ""); w != 1 || e != 0 {
			t.Fatalf("%d warnings and %d errors for one outage of hours, want 1 and 0", w, e)
		}
	})
}

func TestRemoteUnknownKidWhileHangingWaitsAtMostRefreshWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newTestKey(t, "EdDSA", "key-a")
		p := newIdP(t, jwksJSON(t, a))
		v := bubbleVerifier(t, p, nil) // default RefreshWait and FetchTimeout
		p.hangUp()
		time.Sleep(DefaultMinRefreshInterval)

		start := time.Now()
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				_, err := v.Verify(context.Background(), unknownKid(t, a, "new-"+string(rune('a'+i))))
				if !isUnknownKid(err) {
					t.Errorf("unknown kid: err = %v, want the invalid-token error for an unknown kid", err)
				}
			})
		}
		wg.Wait()
		if d := time.Since(start); d != DefaultRefreshWait {
			t.Fatalf("unknown kids answered after %s, want exactly RefreshWait (%s)", d, DefaultRefreshWait)
		}
		if got := p.hits.Load(); got != 2 {
			t.Fatalf("%d requests reached the endpoint, want 2 (start, one shared fetch)", got)
		}
		mustVerify(t, v, a.mint(t, claims(time.Now())), "known kid while the fetch hangs")
		if time.Since(start) != DefaultRefreshWait {
			t.Fatal("a known kid waited for the hanging fetch")
		}

		// The fetch goes on in the background and times out on its own.
		time.Sleep(DefaultFetchTimeout - DefaultRefreshWait)
		synctest.Wait()
		s := v.KeyStats()
		if s.Failures.Timeout != 1 || !s.LastFailure.Equal(start.Add(DefaultFetchTimeout)) {
			t.Fatalf("stats = %+v, want one timeout ending FetchTimeout after the fetch started", s)
		}
	})
}

func TestRemoteVerifyWaitEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newTestKey(t, "EdDSA", "key-a")
		p := newIdP(t, jwksJSON(t, a))
		v := bubbleVerifier(t, p, nil)
		p.hangUp()
		time.Sleep(DefaultMinRefreshInterval)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := v.Verify(ctx, unknownKid(t, a, "new")); !isUnknownKid(err) {
			t.Fatalf("err = %v, want the invalid-token error for an unknown kid", err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Fatalf("Verify returned after %s, want when its context ended (100ms)", d)
		}
	})
}

func TestRemoteRecoversWithoutTrafficWithinRetryCap(t *testing.T) {
	for _, o := range outages {
		t.Run(o.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, b := newTestKey(t, "EdDSA", "key-a"), newTestKey(t, "EdDSA", "key-b")
				p := newIdP(t, jwksJSON(t, a))
				logs := &logRecorder{}
				v := bubbleVerifier(t, p, func(c *Config) { c.Logger = slog.New(logs) })
				o.apply(p)
				time.Sleep(time.Hour) // the backoff reached its cap long ago

				p.serve(http.StatusOK, jwksJSON(t, a, b)) // back, and rotated
				up := time.Now()
				for v.KeyStats().Keys != 2 {
					time.Sleep(100 * time.Millisecond)
				}
				// A fetch hanging when the endpoint came back may hold the slot
				// for up to FetchTimeout; the next starts within the cap.
				limit := DefaultMaxRetryInterval
				if o.name == "Hanging" {
					limit += DefaultFetchTimeout
				}
				if d := time.Since(up); d > limit {
					t.Fatalf("new key seen %s after the endpoint came back, want at most %s", d, limit)
				}
				mustVerify(t, v, b.mint(t, claims(time.Now())), "token from the new key")
				if n := logs.count(slog.LevelInfo, "auth: JWKS loaded"); n != 2 {
					t.Fatalf("%d 'JWKS loaded' lines, want 2 (start, recovery)", n)
				}
			})
		})
	}
}

func TestRemoteFloodOfUnknownKidsStaysRateLimited(t *testing.T) {
	for _, tt := range []struct {
		name   string
		loaded bool
		apply  func(*idp)
		most   int64 // attempts allowed in the minute of flooding
	}{
		// Loaded: one fetch per DefaultMinRefreshInterval at most.
		{"LoadedEndpointUp", true, func(p *idp) {}, 6},
		{"LoadedEndpointFailing", true, func(p *idp) { p.serve(http.StatusBadGateway, nil) }, 6},
		// Never loaded: the start-up backoff alone, delays of at least 50,
		// 100, 200, 400 ms, then at least 500 ms: about 120 in a minute.
		{"NeverLoaded", false, func(p *idp) { p.serve(http.StatusBadGateway, nil) }, 5 + (60000-750)/500},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := newTestKey(t, "EdDSA", "key-a")
				p := newIdP(t, jwksJSON(t, a))
				if !tt.loaded {
					p.serve(http.StatusBadGateway, nil)
				}
				v := bubbleVerifier(t, p, nil)
				tt.apply(p)
				time.Sleep(time.Millisecond)
				before := p.hits.Load()
				var wg sync.WaitGroup
				for g := range 20 {
					forged := unknownKid(t, a, "flood-"+string(rune('a'+g)))
					wg.Go(func() {
						for range 240 {
							v.Verify(context.Background(), forged)
							time.Sleep(250 * time.Millisecond)
						}
					})
				}
				wg.Wait() // a minute of 80 unknown kids a second
				if got := p.hits.Load() - before; got > tt.most {
					t.Fatalf("%d requests reached the endpoint during the flood, want at most %d", got, tt.most)
				}
			})
		})
	}
}

func TestRemoteKeyStatsCountByClass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newTestKey(t, "EdDSA", "key-a")
		p := newIdP(t, jwksJSON(t, a))
		v := bubbleVerifier(t, p, nil)
		s := v.KeyStats()
		if !s.Remote || !s.Loaded || s.Keys != 1 || s.Fetches != 1 || s.Failures != (FetchFailures{}) ||
			!s.LastSuccess.Equal(time.Now()) || !s.LastFailure.IsZero() {
			t.Fatalf("stats after start = %+v", s)
		}
		// Which counter each outage must grow; Hanging comes last, as its
		// attempts may still be running when the next outage begins.
		counter := map[string]func(FetchFailures) uint64{
			"Refused":      func(f FetchFailures) uint64 { return f.Network },
			"ServerError":  func(f FetchFailures) uint64 { return f.Status },
			"HTMLBody":     func(f FetchFailures) uint64 { return f.Parse },
			"EmptyBody":    func(f FetchFailures) uint64 { return f.Parse },
			"EmptyKeySet":  func(f FetchFailures) uint64 { return f.Parse },
			"OnlyHMACKeys": func(f FetchFailures) uint64 { return f.Parse },
			"Hanging":      func(f FetchFailures) uint64 { return f.Timeout },
		}
		total := func(f FetchFailures) uint64 { return f.Network + f.Timeout + f.Status + f.Parse }
		for _, o := range outages {
			synctest.Wait() // no attempt in flight
			prev := v.KeyStats()
			o.apply(p)
			// While fetches succeed the next is due only after RefreshInterval:
			// an unknown kid makes the first failure happen now. Later ones
			// follow the backoff, at most MaxRetryInterval apart.
			time.Sleep(DefaultMinRefreshInterval)
			v.Verify(context.Background(), unknownKid(t, a, "new-"+o.name))
			time.Sleep(DefaultMaxRetryInterval + DefaultFetchTimeout) // at least one attempt ends
			synctest.Wait()
			s := v.KeyStats()
			grew := counter[o.name](s.Failures) - counter[o.name](prev.Failures)
			if grew == 0 || total(s.Failures)-total(prev.Failures) != grew {
				t.Fatalf("%s: failures went from %+v to %+v, want only the matching class to grow", o.name, prev.Failures, s.Failures)
			}
			if uint64(s.ConsecutiveFailures) != total(s.Failures) || s.Fetches-prev.Fetches < grew ||
				!s.LastFailure.After(prev.LastFailure) || !s.LastSuccess.Equal(prev.LastSuccess) || !s.Loaded || s.Keys != 1 {
				t.Fatalf("%s: stats went from %+v to %+v", o.name, prev, s)
			}
		}
		p.serve(http.StatusOK, jwksJSON(t, a))
		time.Sleep(DefaultMaxRetryInterval + DefaultFetchTimeout)
		s = v.KeyStats()
		if s.ConsecutiveFailures != 0 || !s.LastSuccess.After(s.LastFailure) || s.Fetches <= total(s.Failures) {
			t.Fatalf("stats after recovery = %+v, want no consecutive failures and a success after the last failure", s)
		}
		if uint64(p.hits.Load()) > s.Fetches {
			t.Fatalf("%d requests reached the endpoint but only %d fetches counted", p.hits.Load(), s.Fetches)
		}
	})
}

func TestRemoteCloseStopsFetching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newIdP(t, nil)
		p.serve(http.StatusServiceUnavailable, nil)
		v := bubbleVerifier(t, p, nil)
		time.Sleep(5 * time.Second)
		if n := p.hits.Load(); n < 3 {
			t.Fatalf("%d fetches in 5 s without keys, want background retries", n)
		}
		p.hangUp()
		time.Sleep(time.Second) // a retry is now hanging
		start := time.Now()
		v.Close()
		v.Close()
		if time.Since(start) != 0 {
			t.Fatal("Close waited for the hanging fetch instead of cancelling it")
		}
		after, stats := p.hits.Load(), v.KeyStats()
		time.Sleep(time.Hour)
		if got := p.hits.Load(); got != after {
			t.Fatalf("%d fetches after Close", got-after)
		}
		if s := v.KeyStats(); s != stats || s.Failures.Timeout != 0 {
			t.Fatalf("stats changed after Close or counted the cancelled fetch: %+v", s)
		}
		// synctest.Test fails if a goroutine of the verifier is still alive.
	})
}

func TestRemotePeriodicRefreshDropsRetiredKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := newTestKey(t, "EdDSA", "key-a"), newTestKey(t, "EdDSA", "key-b")
		p := newIdP(t, jwksJSON(t, a))
		v := bubbleVerifier(t, p, nil)
		p.serve(http.StatusOK, jwksJSON(t, b))
		time.Sleep(DefaultRefreshInterval - time.Nanosecond)
		if kids := v.keys.current().kids(); kids != "key-a" {
			t.Fatalf("kids = %q before RefreshInterval, want key-a", kids)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if kids := v.keys.current().kids(); kids != "key-b" {
			t.Fatalf("kids = %q after RefreshInterval, want key-b", kids)
		}
		if _, err := v.Verify(context.Background(), a.mint(t, claims(time.Now()))); !isUnknownKid(err) {
			t.Fatalf("token from retired key A: err = %v, want unknown kid", err)
		}
	})
}

func TestRemoteReadyAndLogsHideThePassword(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newIdP(t, nil)
		p.refuseConns()
		logs := &logRecorder{}
		v := bubbleVerifier(t, p, func(c *Config) {
			c.JWKSURL = "https://rowgate:s3cret@idp.example/api/auth/jwks"
			c.Logger = slog.New(logs)
		})
		err := v.Ready()
		if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "rowgate:xxxxx@") {
			t.Fatalf("Ready() = %v, want the URL with its password redacted", err)
		}
		logs.mu.Lock()
		defer logs.mu.Unlock()
		for _, r := range logs.recs {
			r.Attrs(func(a slog.Attr) bool {
				if strings.Contains(a.Value.String(), "s3cret") {
					t.Errorf("log %q carries the password in %s", r.Message, a.Key)
				}
				return true
			})
		}
	})
}

func TestFileKeysAreReadyAndNeverFetch(t *testing.T) {
	t.Parallel()
	v := fileVerifier(t, jwksJSON(t, newTestKey(t, "EdDSA", "a"), newTestKey(t, "ES256", "b")), newFakeClock(), nil)
	if err := v.Ready(); err != nil {
		t.Fatalf("Ready() = %v for a JWKS file", err)
	}
	if s := v.KeyStats(); s != (KeyStats{Loaded: true, Keys: 2}) {
		t.Fatalf("KeyStats() = %+v, want loaded with 2 keys and no fetches", s)
	}
}

// panickyTransport panics on its first request, then hands over to next.
type panickyTransport struct {
	once sync.Once
	next http.RoundTripper
}

func (p *panickyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	p.once.Do(func() { panic("boom") })
	return p.next.RoundTrip(r)
}

func TestRemoteFetchPanicIsAFailedAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newTestKey(t, "EdDSA", "key-a")
		p := newIdP(t, jwksJSON(t, a))
		v := bubbleVerifier(t, p, func(c *Config) {
			c.HTTPClient = &http.Client{Transport: &panickyTransport{next: p}}
		})
		if s := v.KeyStats(); s.Failures.Parse != 1 || s.Loaded {
			t.Fatalf("stats after a panicking first fetch = %+v, want one failure and no set", s)
		}
		time.Sleep(startRetryMax)
		if err := v.Ready(); err != nil {
			t.Fatalf("Ready() = %v, want the retry after the panic to have loaded the set", err)
		}
	})
}

// TestRemoteWaitersSeeTheFetchedSet rotates to a new key 100 times; each
// time a token of the new key must verify through the fetch it triggers,
// so a fetch must install its set before it releases its waiters.
func TestRemoteWaitersSeeTheFetchedSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		keys := []testKey{newTestKey(t, "EdDSA", "k0")}
		p := newIdP(t, jwksJSON(t, keys...))
		v := bubbleVerifier(t, p, nil)
		for i := 1; i <= 100; i++ {
			k := newTestKey(t, "EdDSA", "k"+strconv.Itoa(i))
			p.serve(http.StatusOK, jwksJSON(t, keys[len(keys)-1], k))
			keys = append(keys, k)
			time.Sleep(DefaultMinRefreshInterval)
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() { mustVerify(t, v, k.mint(t, claims(time.Now())), "token of "+k.kid) })
			}
			wg.Wait()
		}
	})
}
