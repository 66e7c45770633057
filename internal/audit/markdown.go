package audit

import (
	"io"
	"strings"
	"time"
	"unicode"
)

// WriteMarkdown writes the report as a review document that stands on its
// own: the verdict, the findings with why and fix, every table with its RLS
// switches and each policy's command, roles and expressions exactly as
// PostgreSQL prints them, every COMMENT ON text, the identity accessor and
// the app role's attributes, and every SECURITY DEFINER function in full.
func WriteMarkdown(w io.Writer, r *Report) error {
	md := &errWriter{w: w}
	writeHeader(md, r)
	writeFindings(md, r)
	writeTables(md, r)
	writeAccessor(md, r)
	writeAppRole(md, r)
	writeViews(md, r)
	writeFunctions(md, r)
	return md.err
}

func writeHeader(md *errWriter, r *Report) {
	md.printf("# Row level security audit: %s, schema %s\n\n", code(r.Database), code(r.Schema))
	md.printf("| | |\n|---|---|\n")
	md.printf("| Database | %s |\n", codeCell(r.Database))
	md.printf("| Schema | %s |\n", codeCell(r.Schema))
	md.printf("| Audited as | %s |\n", codeCell(r.AuditedAs))
	md.printf("| App role | %s |\n", codeCell(r.AppRole.Name))
	md.printf("| PostgreSQL | %s |\n", cell(r.ServerVersion))
	md.printf("| Generated | %s |\n", r.GeneratedAt.UTC().Format(time.RFC3339))
	md.printf("| Policies compared with rls/ | %s |\n\n", yesNo(r.DriftChecked))
	md.printf("**Result: %s.** %s.\n\n", verdict(r), counts(r.Summary))
	md.printf("An error fails the audit (exit status 1); warnings and info do not. Every rule is explained in rowgate's `docs/audit.md`.\n\n")
}

func writeFindings(md *errWriter, r *Report) {
	md.printf("## Findings\n\n")
	if len(r.Findings) == 0 {
		md.printf("None: every rule passed.\n\n")
		return
	}
	md.printf("| # | Severity | Rule | Object |\n|---|---|---|---|\n")
	for i, f := range r.Findings {
		md.printf("| %d | %s | %s | %s |\n", i+1, f.Severity, codeCell(f.Rule), cell(f.Object))
	}
	md.printf("\n")
	for i, f := range r.Findings {
		md.printf("### %d. %s %s: %s\n\n", i+1, f.Severity, code(f.Rule), text(f.Object))
		md.printf("- **What:** %s\n", text(f.Detail))
		md.printf("- **Why it matters:** %s\n", text(f.Why))
		md.printf("- **Fix:** %s\n\n", text(f.Fix))
	}
}

func writeTables(md *errWriter, r *Report) {
	md.printf("## Tables\n\n")
	if len(r.Tables) == 0 {
		md.printf("The schema has no tables.\n\n")
		return
	}
	md.printf("| Table | RLS enabled | RLS forced | Policies |\n|---|---|---|---|\n")
	for _, t := range r.Tables {
		md.printf("| %s | %s | %s | %d |\n", codeCell(t.Name), yesNo(t.RLSEnabled), yesNo(t.RLSForced), len(t.Policies))
	}
	md.printf("\n")
	for _, t := range r.Tables {
		md.printf("### Table %s\n\n", code(t.Name))
		md.printf("Row level security enabled: **%s**; forced: **%s**.\n\n", yesNo(t.RLSEnabled), yesNo(t.RLSForced))
		writeComment(md, t.Comment)
		if len(t.Policies) == 0 {
			md.printf("No policies.\n\n")
		}
		for _, p := range t.Policies {
			writePolicy(md, p)
		}
	}
}

func writePolicy(md *errWriter, p Policy) {
	md.printf("#### Policy %s\n\n", code(p.Name))
	roles := make([]string, len(p.Roles))
	for i, role := range p.Roles {
		roles[i] = codeCell(role)
	}
	md.printf("| Command | Roles | Kind |\n|---|---|---|\n")
	md.printf("| %s | %s | %s |\n\n", p.Command, strings.Join(roles, ", "), permissiveness(p.Permissive))
	for _, clause := range []struct {
		name string
		expr *string
	}{{"USING", p.Using}, {"WITH CHECK", p.Check}} {
		if clause.expr == nil {
			md.printf("%s: none.\n\n", clause.name)
			continue
		}
		md.printf("%s:\n\n%s\n", clause.name, fenced(*clause.expr, "sql"))
	}
	writeComment(md, p.Comment)
}

func writeComment(md *errWriter, comment *string) {
	if comment == nil {
		md.printf("Comment: none.\n\n")
		return
	}
	md.printf("Comment:\n\n")
	for _, line := range strings.Split(*comment, "\n") {
		md.printf("> %s\n", text(line))
	}
	md.printf("\n")
}

func writeAccessor(md *errWriter, r *Report) {
	md.printf("## Identity accessor\n\n")
	if r.Accessor == nil || r.Accessor.Definition == nil {
		md.printf("The schema has no identity accessor function.\n\n")
		return
	}
	md.printf("Every policy should read the caller's identity through %s, called as %s so it is evaluated once per statement.\n\n",
		code(r.Accessor.Signature), code("(select "+r.Accessor.Signature+")"))
	md.printf("%s\n", fenced(strings.TrimSpace(*r.Accessor.Definition), "sql"))
	writeComment(md, r.Accessor.Comment)
}

func writeAppRole(md *errWriter, r *Report) {
	a := r.AppRole
	md.printf("## App role %s\n\n", code(a.Name))
	if !a.Exists {
		md.printf("The role does not exist.\n\n")
		return
	}
	md.printf("| Attribute | Value |\n|---|---|\n")
	for _, attr := range []struct {
		name string
		on   bool
	}{{"LOGIN", a.Login}, {"SUPERUSER", a.Superuser}, {"BYPASSRLS", a.BypassRLS}, {"CREATEROLE", a.CreateRole}, {"CREATEDB", a.CreateDB}, {"REPLICATION", a.Replication}} {
		md.printf("| %s | %s |\n", attr.name, yesNo(attr.on))
	}
	md.printf("| Member of | %s |\n", codeList(a.MemberOf, "no role"))
	md.printf("| Owns in this schema | %s |\n\n", codeList(a.Owns, "nothing"))
}

func writeViews(md *errWriter, r *Report) {
	if len(r.Views) == 0 {
		return
	}
	md.printf("## Views\n\n| View | security_invoker | Comment |\n|---|---|---|\n")
	for _, v := range r.Views {
		md.printf("| %s | %s | %s |\n", codeCell(v.Name), yesNo(v.SecurityInvoker), optCell(v.Comment))
	}
	md.printf("\n")
}

func writeFunctions(md *errWriter, r *Report) {
	md.printf("## Functions\n\n")
	if len(r.Functions) == 0 {
		md.printf("The schema has no functions.\n\n")
		return
	}
	md.printf("The schema's functions, and every SECURITY DEFINER function a policy calls.\n\n")
	md.printf("| Function | Security | search_path | Owner | PUBLIC may execute | Comment |\n|---|---|---|---|---|---|\n")
	for _, f := range r.Functions {
		security, path := "invoker", "not set"
		if f.SecurityDefiner {
			security = "**definer**"
		}
		if f.SearchPath != nil {
			path = codeCell(*f.SearchPath)
		}
		md.printf("| %s | %s | %s | %s | %s | %s |\n", codeCell(f.Signature), security, path, codeCell(f.Owner), yesNo(f.PublicExecute), optCell(f.Comment))
	}
	md.printf("\n")
	for _, f := range r.Functions {
		if f.SecurityDefiner {
			writeDefiner(md, f)
		}
	}
}

// writeDefiner shows a SECURITY DEFINER function in full: it runs with
// its owner's rights, so a reviewer reads what it does.
func writeDefiner(md *errWriter, f Function) {
	md.printf("### SECURITY DEFINER %s\n\n", code(f.Signature))
	md.printf("Runs as %s. Called by %s. Reads %s.\n\n", code(f.Owner), codeList(f.CalledBy, "no policy"), reads(f.Reads))
	if f.Definition != nil {
		md.printf("%s\n", fenced(strings.TrimSpace(*f.Definition), "sql"))
	}
	writeComment(md, f.Comment)
}

func reads(tables []string) string {
	if tables == nil {
		return "what its body names (a string body: PostgreSQL records no dependencies)"
	}
	return codeList(tables, "no table")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func codeList(items []string, none string) string {
	if len(items) == 0 {
		return none
	}
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = codeCell(s)
	}
	return strings.Join(out, ", ")
}

// code renders s as an inline code span, with a fence longer than any run
// of backticks inside it. Line breaks become spaces, so it fits a table.
func code(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// codeCell is code for a table cell, where a pipe must be escaped even
// inside a code span.
func codeCell(s string) string { return strings.ReplaceAll(code(s), "|", `\|`) }

// fenced renders s as a fenced code block.
func fenced(s, lang string) string {
	fence := strings.Repeat("`", max(3, longestRun(s, '`')+1))
	return fence + lang + "\n" + s + "\n" + fence + "\n"
}

func longestRun(s string, c rune) int {
	longest, run := 0, 0
	for _, r := range s {
		if r == c {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// text escapes prose so that markdown shows it literally: characters that
// would start emphasis, links, HTML or code are backslash-escaped, and an
// underscore only where it could start or end emphasis (not inside
// app_user_id).
func text(s string) string {
	var b strings.Builder
	runes := []rune(s)
	for i, r := range runes {
		switch r {
		case '\\', '`', '*', '[', ']', '<', '>', '|', '#', '&', '~':
			b.WriteRune('\\')
		case '_':
			inWord := i > 0 && i < len(runes)-1 && isWordRune(runes[i-1]) && isWordRune(runes[i+1])
			if !inWord {
				b.WriteRune('\\')
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

// cell is text on one line, for a table cell.
func cell(s string) string { return text(strings.Join(strings.Fields(s), " ")) }

func optCell(s *string) string {
	if s == nil {
		return "none"
	}
	return cell(*s)
}
