package auth

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Middleware verifies the request's `Authorization: Bearer <token>` (scheme
// matched case-insensitively) and, on success, stores the Caller in the
// request context for CallerFrom. Otherwise it returns an *Error and does
// not call the next handler: Err matches ErrMissingToken when no bearer
// token was presented at all, ErrInvalidToken otherwise (including a
// malformed header or several Authorization headers).
func Middleware(v *Verifier) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			token, err := bearerToken(req.Header)
			if err != nil {
				return newError(err)
			}
			caller, err := v.Verify(req.Context(), token)
			if err != nil {
				return newError(err)
			}
			c.SetRequest(req.WithContext(WithCaller(req.Context(), caller)))
			return next(c)
		}
	}
}

// bearerToken extracts the token from the Authorization header. A missing
// header or another scheme is ErrMissingToken (RFC 6750 §3.1: no error
// code); a Bearer header without exactly one token is invalid.
func bearerToken(h http.Header) (string, error) {
	values := h.Values("Authorization")
	switch len(values) {
	case 0:
		return "", ErrMissingToken
	case 1:
	default:
		return "", reject(errMalformed)
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrMissingToken
	}
	token := strings.TrimLeft(rest, " ")
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", reject(errMalformed)
	}
	return token, nil
}
