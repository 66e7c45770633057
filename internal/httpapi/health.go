package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Waiting is a dependency /readyz waits for, and why, in words the
// service chose (never a database's or identity provider's own message):
// it is shown to whoever asks.
type Waiting struct {
	Component string `json:"component"`
	Reason    string `json:"reason"`
}

func (w *Waiting) Error() string { return w.Component + ": " + w.Reason }

// Degraded is a readiness answer of a service that still serves some
// requests (reads, from replicas) while a dependency is down: /readyz
// answers 200, so load balancers keep sending traffic, and says what is
// missing.
type Degraded struct{ Waiting }

func (d *Degraded) Error() string { return "degraded: " + d.Waiting.Error() }

// healthz answers 200 while the process runs.
func healthz(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, []byte(`{"status":"ok"}`))
}

// readyz answers 200 when ready reports nil within 2s, else 503 with
// every *Waiting the error carries (errors.Join keeps them all).
func readyz(ready func(context.Context) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if ready != nil {
			err := ready(ctx)
			var d *Degraded
			if errors.As(err, &d) {
				body, _ := json.Marshal(struct {
					Status     string    `json:"status"`
					WaitingFor []Waiting `json:"waiting_for"`
				}{"degraded", []Waiting{d.Waiting}})
				return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, body)
			}
			if err != nil {
				p := problem(http.StatusServiceUnavailable, "not_ready", "Not ready to serve.").
					withHeader("Retry-After", "1").withCause(err)
				p.WaitingFor = waitingIn(err)
				return p
			}
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, []byte(`{"status":"ready"}`))
	}
}

// waitingIn collects the *Waiting values in err's tree.
func waitingIn(err error) []Waiting {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []Waiting
		for _, e := range joined.Unwrap() {
			out = append(out, waitingIn(e)...)
		}
		return out
	}
	var w *Waiting
	if errors.As(err, &w) {
		return []Waiting{*w}
	}
	return nil
}
