// Package httpapi is rowgate's HTTP API on Echo: routes, handlers per
// resource, RFC 9457 problem+json errors, the OpenAPI document, metrics and
// request logging.
//
// Handlers take the caller from the verified token (package auth) and pass
// it to the stores; they never filter by owner themselves. Every error
// reaches one handler, which answers problem+json, never echoes a database
// message, and logs the cause with the request id.
package httpapi
