package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/todo"
)

// toProblem maps any error a handler or middleware returns to the problem
// the client sees. Unknown errors become a bare 500: their text is logged,
// never sent.
func toProblem(err error) *Problem {
	var p *Problem
	var v *todo.ValidationError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, auth.ErrKeysUnavailable):
		return problem(http.StatusServiceUnavailable, "auth_unavailable", "The signing keys cannot be fetched right now.").
			withHeader("Retry-After", "5").withCause(err)
	case errors.Is(err, auth.ErrMissingToken), errors.Is(err, auth.ErrInvalidToken):
		return authProblem(err)
	case errors.As(err, &v):
		return errValidation(v.Field, v.Reason).withCause(err)
	case errors.Is(err, todo.ErrNotFound):
		return errNotFound()
	case errors.Is(err, todo.ErrKeyReused):
		return problem(http.StatusUnprocessableEntity, "idempotency_key_reused",
			"This Idempotency-Key was already used for a different request; use a new key for a new request.")
	case errors.Is(err, todo.ErrPreconditionFailed):
		return problem(http.StatusPreconditionFailed, "precondition_failed",
			"The resource changed since the ETag given in If-Match; fetch it again.")
	case errors.Is(err, todo.ErrConflict):
		return problem(http.StatusConflict, "conflict", "The change conflicts with the current state.").withCause(err)
	case errors.Is(err, todo.ErrNotAMember):
		return problem(http.StatusForbidden, "not_a_member",
			"You are not a member of that organization, or it does not exist.").withField("organization_id", "not a member")
	case errors.Is(err, todo.ErrNotAllowed):
		return problem(http.StatusForbidden, "not_allowed",
			"You may see this todo but not make this change: only its creator, or an owner or admin of its organization, may delete it, and only its creator may make it personal.")
	case errors.Is(err, todo.ErrForbidden):
		return problem(http.StatusForbidden, "forbidden", "The database refused this change.").withCause(err)
	case errors.Is(err, todo.ErrOverloaded):
		return problem(http.StatusServiceUnavailable, "overloaded", "The service is at capacity; retry shortly.").
			withHeader("Retry-After", "1").withCause(err)
	case errors.Is(err, todo.ErrOutcomeUnknown):
		return problem(http.StatusServiceUnavailable, "outcome_unknown",
			"The connection to the database was lost after the change was sent; it may or may not have been applied. "+
				"Read the resource to find out, or retry with the same Idempotency-Key.").
			withHeader("Retry-After", "1").withCause(err)
	case errors.Is(err, todo.ErrUnavailable):
		return problem(http.StatusServiceUnavailable, "unavailable", "The database could not answer in time; retry.").
			withHeader("Retry-After", "1").withCause(err)
	case errors.As(err, &he):
		return echoProblem(he)
	}
	return problem(http.StatusInternalServerError, "internal", "Something went wrong on our side.").withCause(err)
}

func authProblem(err error) *Problem {
	status, code, detail := http.StatusUnauthorized, "invalid_token", "The access token is invalid."
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Description != "" {
		detail = ae.Description
	}
	if errors.Is(err, auth.ErrMissingToken) {
		code, detail = "missing_token", "Send a bearer token: Authorization: Bearer <jwt>."
	}
	return problem(status, code, detail).withHeader("WWW-Authenticate", auth.Challenge(err)).withCause(err)
}

// echoProblem covers what Echo itself rejects: unknown routes, wrong
// methods, and its own middleware errors.
func echoProblem(he *echo.HTTPError) *Problem {
	switch he.Code {
	case http.StatusNotFound:
		return errNotFound()
	case http.StatusMethodNotAllowed:
		return problem(he.Code, "method_not_allowed", "This method is not allowed on this resource.")
	case http.StatusRequestEntityTooLarge:
		return errTooLarge()
	}
	if he.Code >= 400 && he.Code < 500 {
		return problem(he.Code, "bad_request", http.StatusText(he.Code)+".")
	}
	return problem(http.StatusInternalServerError, "internal", "Something went wrong on our side.").withCause(he)
}

func errTooLarge() *Problem {
	return problem(http.StatusRequestEntityTooLarge, "body_too_large", "The request body exceeds 64 KiB.")
}

// errorHandler writes every error as problem+json and logs it.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		p := toProblem(err)
		p.RequestID = requestID(c)
		for k, vs := range p.header {
			for _, v := range vs {
				c.Response().Header().Add(k, v)
			}
		}
		if p.Status >= 500 {
			level := slog.LevelError
			switch {
			case c.Request().Context().Err() != nil && errors.Is(err, context.Canceled):
				level = slog.LevelDebug // the client went away; nothing failed
			case p.Code == "not_ready":
				level = slog.LevelDebug // a probe during start-up or shutdown
			case p.Status == http.StatusServiceUnavailable:
				level = slog.LevelWarn // a dependency's fault, logged as a change of state too
			}
			log.LogAttrs(c.Request().Context(), level, "request failed",
				slog.String("request_id", p.RequestID), slog.String("code", p.Code), slog.Any("err", err))
		}
		c.Set(ctxErrorCode, p.Code)
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		if c.Request().Method == http.MethodHead {
			c.Response().WriteHeader(p.Status)
			return
		}
		c.Response().WriteHeader(p.Status)
		c.Response().Write(p.body())
	}
}
