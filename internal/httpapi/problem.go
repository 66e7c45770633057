package httpapi

import (
	"encoding/json"
	"net/http"
)

// Problem is an RFC 9457 problem details object. Code is a stable,
// machine-readable extension member; Errors lists field errors.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Code      string       `json:"code"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
	// WaitingFor lists what a 503 from /readyz waits for.
	WaitingFor []Waiting `json:"waiting_for,omitempty"`

	header http.Header // extra response headers (WWW-Authenticate, Retry-After)
	cause  error       // logged, never sent
}

// FieldError names a request field and what is wrong with it.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func (p *Problem) Error() string {
	if p.cause != nil {
		return p.Code + ": " + p.cause.Error()
	}
	return p.Code + ": " + p.Detail
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (p *Problem) Unwrap() error { return p.cause }

func problem(status int, code, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

func (p *Problem) withCause(err error) *Problem { p.cause = err; return p }

func (p *Problem) withHeader(k, v string) *Problem {
	if p.header == nil {
		p.header = http.Header{}
	}
	p.header.Set(k, v)
	return p
}

func (p *Problem) withField(field, detail string) *Problem {
	p.Errors = append(p.Errors, FieldError{Field: field, Detail: detail})
	return p
}

// The problems the API answers with. Each Code is part of the contract.
func errBadRequest(code, detail string) *Problem { return problem(http.StatusBadRequest, code, detail) }

func errNotFound() *Problem {
	return problem(http.StatusNotFound, "not_found", "No such resource.")
}

func errValidation(field, detail string) *Problem {
	return problem(http.StatusUnprocessableEntity, "validation_failed", "The request body has invalid values.").withField(field, detail)
}

func (p *Problem) body() []byte {
	b, _ := json.Marshal(p)
	return b
}
