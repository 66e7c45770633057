package audit

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report for a terminal: one block per finding, most
// serious first, and a last line that says PASS or FAIL with the counts.
func WriteText(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	ew.printf("rowgate audit of database %s, schema %s, as %s (PostgreSQL %s)\n\n", r.Database, r.Schema, r.AuditedAs, r.ServerVersion)
	for _, f := range r.Findings {
		ew.printf("%-5s  %s  %s\n", strings.ToUpper(string(f.Severity)), f.Rule, f.Object)
		ew.printf("       %s\n", f.Detail)
		ew.printf("       why: %s\n", f.Why)
		ew.printf("       fix: %s\n\n", f.Fix)
	}
	ew.printf("%s: %s\n", verdict(r), counts(r.Summary))
	return ew.err
}

func verdict(r *Report) string {
	if r.HasErrors() {
		return "FAIL"
	}
	return "PASS"
}

func counts(s Summary) string {
	return fmt.Sprintf("%s, %s, %d info", plural(s.Errors, "error"), plural(s.Warnings, "warning"), s.Info)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// errWriter keeps the first write error, so a renderer checks once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
