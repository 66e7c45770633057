// Package postgres is rowgate's one door into the database.
//
// Every request runs through DB.run: the identity of the verified caller is
// set transaction-locally with set_config('app.user_id', …, true) in the
// same pipelined batch as the request's statements, so a request costs one
// network round trip and the identity ends with its transaction. Nothing
// else in rowgate sets app.user_id.
//
// The stores (Todos, Users) run plain SQL with explicit columns and no
// ownership filter: PostgreSQL's row level security decides which rows a
// statement can see or change. A row that belongs to someone else is
// indistinguishable from one that does not exist.
package postgres
