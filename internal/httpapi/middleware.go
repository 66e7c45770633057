package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/rowgate/rowgate/internal/auth"
)

const (
	headerRequestID = "X-Request-Id"
	ctxRequestID    = "rowgate.request_id"
	ctxErrorCode    = "rowgate.error_code"
	// MaxBodyBytes bounds a request body; larger ones get 413.
	MaxBodyBytes = 64 << 10
)

// withRequestID keeps a sane incoming X-Request-Id (up to 64 characters of
// [A-Za-z0-9._-]) or makes one, and echoes it on the response.
func withRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(headerRequestID)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		c.Set(ctxRequestID, id)
		c.Response().Header().Set(headerRequestID, id)
		return next(c)
	}
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Request ids are a random per-process prefix and a counter: unique
// across restarts and instances, and cheaper than reading randomness on
// every request.
var (
	requestIDPrefix = func() string {
		var b [6]byte
		rand.Read(b[:])
		return hex.EncodeToString(b[:]) + "-"
	}()
	requestIDSeq atomic.Uint64
)

func newRequestID() string {
	return requestIDPrefix + strconv.FormatUint(requestIDSeq.Add(1), 36)
}

func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// withAccessLog logs one line per request: request id, method, route,
// status, latency and, once authenticated, the user id. It also records
// the request in the metrics.
func withAccessLog(log *slog.Logger, m *metrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err) // writes the problem now, so the status is known
			}
			status := c.Response().Status
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			m.observe(c.Request().Method, route, status, elapsed)
			if !log.Enabled(c.Request().Context(), slog.LevelInfo) {
				return nil
			}
			attrs := []slog.Attr{
				slog.String("request_id", requestID(c)),
				slog.String("method", c.Request().Method),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Duration("latency", elapsed),
			}
			if caller, ok := auth.CallerFrom(c.Request().Context()); ok {
				attrs = append(attrs, slog.String("user_id", caller.ID))
			}
			if code, ok := c.Get(ctxErrorCode).(string); ok {
				attrs = append(attrs, slog.String("error_code", code))
			}
			log.LogAttrs(c.Request().Context(), slog.LevelInfo, "request", attrs...)
			return nil
		}
	}
}

// withTimeout gives each request a deadline; the database calls under it
// are cancelled when it passes (and answer 503).
func withTimeout(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// withBodyLimit answers 413 for a declared length over the limit and caps
// the body reader for undeclared ones (the decoder reports the overflow).
func withBodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > MaxBodyBytes {
			return errTooLarge()
		}
		if req.Body != nil && req.Body != http.NoBody {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, MaxBodyBytes)
		}
		return next(c)
	}
}

// withRecover turns a panic into a 500 and logs the stack; the client sees
// neither.
func withRecover(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						panic(r)
					}
					log.Error("panic", slog.String("request_id", requestID(c)), slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			return next(c)
		}
	}
}
