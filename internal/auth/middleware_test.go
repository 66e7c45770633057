package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/rowgate/rowgate/internal/todo"
)

func TestMiddleware(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	k := newTestKey(t, "EdDSA", "ed")
	v := fileVerifier(t, jwksJSON(t, k), clock, nil)
	good := k.mint(t, claims(clock.Now()))
	expiredClaims := claims(clock.Now())
	expiredClaims["exp"] = clock.Now().Add(-time.Hour).Unix()
	expired := k.mint(t, expiredClaims)
	ada := todo.Caller{ID: "user-1", Email: "ada@example.com", Name: "Ada"}

	tests := []struct {
		name          string
		authorization []string
		wantErr       error // nil: next runs and sees ada
		wantDesc      string
	}{
		{"SuccessBearer", []string{"Bearer " + good}, nil, ""},
		{"SuccessSchemeCaseInsensitive", []string{"bEARER " + good}, nil, ""},
		{"SuccessExtraSpaces", []string{"  Bearer   " + good + " "}, nil, ""},
		{"ErrMissingHeader", nil, ErrMissingToken, descMissing},
		{"ErrEmptyHeader", []string{""}, ErrMissingToken, descMissing},
		{"ErrOtherScheme", []string{"Basic dXNlcjpwYXNz"}, ErrMissingToken, descMissing},
		{"ErrSchemeWithoutToken", []string{"Bearer"}, ErrInvalidToken, descInvalid},
		{"ErrTwoTokens", []string{"Bearer " + good + " " + good}, ErrInvalidToken, descInvalid},
		{"ErrTwoHeaders", []string{"Bearer " + good, "Bearer " + good}, ErrInvalidToken, descInvalid},
		{"ErrBadToken", []string{"Bearer x.y.z"}, ErrInvalidToken, descInvalid},
		{"ErrExpiredToken", []string{"Bearer " + expired}, ErrTokenExpired, descExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/todos", nil)
			for _, a := range tt.authorization {
				req.Header.Add("Authorization", a)
			}
			c := echo.New().NewContext(req, httptest.NewRecorder())
			var got todo.Caller
			var called bool
			err := Middleware(v)(func(c echo.Context) error {
				called = true
				got, _ = CallerFrom(c.Request().Context())
				return nil
			})(c)
			if tt.wantErr == nil {
				if err != nil || !called || got != ada {
					t.Fatalf("err = %v, next called = %v, caller = %+v; want success with %+v", err, called, got, ada)
				}
				return
			}
			var ae *Error
			if called || !errors.As(err, &ae) || !errors.Is(err, tt.wantErr) || ae.Description != tt.wantDesc {
				t.Fatalf("err = %#v, next called = %v; want *Error matching %v with %q", err, called, tt.wantErr, tt.wantDesc)
			}
		})
	}
}

func TestChallenge(t *testing.T) {
	t.Parallel()
	const invalid = `Bearer realm="rowgate", error="invalid_token", error_description=`
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"EmptyForNil", nil, ""},
		{"EmptyForOtherErrors", errors.New("boom"), ""},
		{"RealmOnlyForMissingToken", newError(ErrMissingToken), `Bearer realm="rowgate"`},
		{"RealmOnlyForBareSentinel", ErrMissingToken, `Bearer realm="rowgate"`},
		{"InvalidTokenFromVerify", reject(errSignature), invalid + `"the access token is invalid"`},
		{"InvalidTokenExpired", newError(reject(ErrTokenExpired)), invalid + `"the access token expired"`},
		{"CustomDescription", &Error{Err: ErrInvalidToken, Description: "token revoked"}, invalid + `"token revoked"`},
		{"UnquotableDescriptionReplaced", &Error{Err: ErrInvalidToken, Description: `say "hi"`}, invalid + `"the access token is invalid"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Challenge(tt.err); got != tt.want {
				t.Fatalf("Challenge = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCallerFrom(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		req    func() *http.Request
		wantOK bool
	}{
		{"NotFoundWithoutCaller", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) }, false},
		{"NotFoundWithEmptyID", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			return r.WithContext(WithCaller(r.Context(), todo.Caller{Email: "x@example.com"}))
		}, false},
		{"Success", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			return r.WithContext(WithCaller(r.Context(), todo.Caller{ID: "u"}))
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, ok := CallerFrom(tt.req().Context()); ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
		})
	}
}
