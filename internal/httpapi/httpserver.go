package httpapi

import (
	"log/slog"
	"net/http"
	"time"
)

// Defaults of HTTPServerOptions: what one connection may cost the server.
const (
	// DefaultReadHeaderTimeout closes a connection whose request line and
	// headers are not in within 5 s (slowloris).
	DefaultReadHeaderTimeout = 5 * time.Second
	// DefaultReadTimeout bounds reading a whole request, body included: a
	// 64 KiB body at a crawl is cut off after 15 s.
	DefaultReadTimeout = 15 * time.Second
	// DefaultIdleTimeout closes a keep-alive connection after 2 min
	// without a request.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultMaxHeaderBytes bounds the request line and headers: 16 KiB
	// holds the largest token the verifier reads (auth.MaxTokenBytes, 8 KiB)
	// and the rest. net/http answers more with 431 (it allows 4 KiB of
	// slack beyond this before it notices).
	DefaultMaxHeaderBytes = 16 << 10
	// writeSlack is how much longer than the request timeout a response
	// may take to write: a 503 for a request that ran out must still go out.
	writeSlack = 5 * time.Second
)

// HTTPServerOptions bounds what a connection may hold. A zero or negative
// field takes its default: no timeout can be turned off.
type HTTPServerOptions struct {
	ReadHeaderTimeout time.Duration // default DefaultReadHeaderTimeout
	ReadTimeout       time.Duration // default DefaultReadTimeout
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the response; default RequestTimeout + 5 s.
	WriteTimeout time.Duration
	// RequestTimeout is Options.RequestTimeout, from which WriteTimeout's
	// default follows; default 10 s as there.
	RequestTimeout time.Duration
	IdleTimeout    time.Duration // default DefaultIdleTimeout
	MaxHeaderBytes int           // default DefaultMaxHeaderBytes
	// Logger receives net/http's own errors (a failed TLS handshake, a
	// broken connection) at warn; nil discards them.
	Logger *slog.Logger
}

// NewHTTPServer returns the http.Server that serves handler (New's) with
// every timeout and the header limit set, so that slow or oversized
// requests are closed or refused on time: a client sending its headers a
// byte at a time is cut off after ReadHeaderTimeout, oversized headers are
// answered 431, and bodies over MaxBodyBytes 413 (by New's middleware).
// The caller sets the listener: srv.Serve(ln).
func NewHTTPServer(handler http.Handler, o HTTPServerOptions) *http.Server {
	o = o.withDefaults()
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
}

func (o HTTPServerOptions) withDefaults() HTTPServerOptions {
	orDefault := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	orDefault(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	orDefault(&o.ReadTimeout, DefaultReadTimeout)
	orDefault(&o.RequestTimeout, 10*time.Second)
	orDefault(&o.WriteTimeout, o.RequestTimeout+writeSlack)
	orDefault(&o.IdleTimeout, DefaultIdleTimeout)
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
