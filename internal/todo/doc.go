// Package todo holds rowgate's domain: the caller, users, todos, the list
// query and its page, and the errors every layer speaks.
//
// It imports neither the web framework nor the database driver. The HTTP
// layer and the PostgreSQL layer both depend on it; it depends on nothing
// but the standard library.
package todo
