package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/tern/v2/migrate"
)

// Error is a failed statement located in its source file: sql/NNN_name.sql
// or rls/name.sql, with the 1-based line and column PostgreSQL pointed at
// (zero when it pointed nowhere). Its message ends with PostgreSQL's hint,
// when there is one: rls/ puts the fix there (the grants to run, say).
type Error struct {
	File   string
	Line   int
	Column int
	Err    *pgconn.PgError
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
	}
	msg := fmt.Sprintf("migrate: %s: %s (SQLSTATE %s)", loc, e.Err.Message, e.Err.Code)
	if e.Err.Hint != "" {
		msg += "\nhint: " + e.Err.Hint
	}
	return msg
}

// Unwrap returns the PostgreSQL error, for errors.As and SQLSTATE checks.
func (e *Error) Unwrap() error { return e.Err }

// migrationError turns tern's error into an *Error located in sql/.
func migrationError(ctx context.Context, conn *pgx.Conn, migrations fs.FS, err error) error {
	var mErr migrate.MigrationPgError
	if !errors.As(err, &mErr) {
		return fmt.Errorf("migrate: %w", err)
	}
	e := &Error{File: path.Join("sql", mErr.MigrationName), Err: mErr.PgError}
	e.Line, e.Column = locateError(ctx, conn, mErr.Sql, mErr.PgError)
	// tern trims leading white space off the file before running it.
	if body, readErr := fs.ReadFile(migrations, mErr.MigrationName); readErr == nil && e.Line > 0 {
		trimmed := len(body) - len(strings.TrimLeft(string(body), " \t\r\n"))
		e.Line += strings.Count(string(body[:trimmed]), "\n")
	}
	return e
}

// newPolicyError locates an error in the rendered rls/ package. Every file
// in rls/ starts with a "-- rls/<file>" line, which marks where it begins in
// the rendered text.
func newPolicyError(ctx context.Context, conn *pgx.Conn, sql string, pgErr *pgconn.PgError) error {
	e := &Error{File: "rls/install.sql", Err: pgErr}
	e.Line, e.Column = locateError(ctx, conn, sql, pgErr)
	if e.Line == 0 {
		return e
	}
	lines := strings.Split(sql, "\n")
	for i := e.Line - 1; i >= 0 && i < len(lines); i-- {
		if name, ok := strings.CutPrefix(lines[i], "-- rls/"); ok {
			e.File = "rls/" + strings.SplitN(name, ":", 2)[0]
			e.Line -= i
			break
		}
	}
	return e
}

// locateError finds where in script pgErr arose. PostgreSQL gives a position
// for most errors; for the rest (a missing relation, say) the script is
// replayed one statement at a time in a transaction that is rolled back, and
// the error is placed at the start of the statement that fails.
func locateError(ctx context.Context, conn *pgx.Conn, script string, pgErr *pgconn.PgError) (line, column int) {
	if pgErr.Position > 0 {
		return locate(script, int(pgErr.Position))
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, 0
	}
	defer tx.Rollback(context.Background())
	for _, st := range splitStatements(script) {
		if _, err := tx.Exec(ctx, st.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
			var replayErr *pgconn.PgError
			if !errors.As(err, &replayErr) || replayErr.Code != pgErr.Code {
				return 0, 0
			}
			pos := utf8.RuneCountInString(script[:st.Offset]) + 1
			if replayErr.Position > 0 {
				pos += int(replayErr.Position) - 1
			}
			return locate(script, pos)
		}
	}
	return 0, 0
}

// locate converts PostgreSQL's 1-based character position into a line and
// column.
func locate(sql string, position int) (line, column int) {
	line, column = 1, 1
	for i, r := range []rune(sql) {
		if i >= position-1 {
			break
		}
		if r == '\n' {
			line, column = line+1, 1
		} else {
			column++
		}
	}
	return line, column
}
