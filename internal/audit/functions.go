package audit

import (
	"fmt"
	"slices"
	"strings"
)

// functionRules checks the schema's functions and every SECURITY DEFINER
// function a policy of the schema calls, wherever it lives:
// security_definer_search_path, function_public_execute,
// definer_function_owner and definer_function.
func functionRules(c *catalog, opts Options) []Finding {
	var out []Finding
	for _, f := range c.functions {
		out = append(out, definerSearchPath(f)...)
		out = append(out, publicExecute(f, opts)...)
		out = append(out, definerOwner(f, opts)...)
		out = append(out, definerFunction(f, opts)...)
	}
	return out
}

func (f *functionInfo) object() string { return strings.ToLower(f.keyword()) + " " + f.qualified }

// keyword is FUNCTION or PROCEDURE, for the statements a finding suggests.
func (f *functionInfo) keyword() string {
	if f.kind == "p" {
		return "PROCEDURE"
	}
	return "FUNCTION"
}

// definerSearchPath flags a SECURITY DEFINER function whose search_path is
// not pinned, or pinned to something a caller or another role can write
// to.
func definerSearchPath(f *functionInfo) []Finding {
	if !f.SecurityDefiner {
		return nil
	}
	fix := fmt.Sprintf("ALTER %s %s SET search_path = pg_catalog, pg_temp; and schema-qualify the names in its body.", f.keyword(), f.qualified)
	if f.SearchPath == nil {
		return []Finding{newFinding(RuleDefinerSearchPath, f.object(),
			"SECURITY DEFINER without a search_path setting: it resolves names through the caller's search_path", fix)}
	}
	issues := append(searchPathIssues(f.path), f.pathIssues...)
	if len(issues) == 0 {
		return nil
	}
	return []Finding{newFinding(RuleDefinerSearchPath, f.object(),
		fmt.Sprintf("SECURITY DEFINER with search_path = %s: %s", *f.SearchPath, strings.Join(issues, "; ")), fix)}
}

// searchPathIssues says what is unsafe about a pinned search_path on its
// face: "$user" and public, and pg_temp anywhere but last when the path
// names a schema to look tables up in. (Who may write to the schemas it
// names is asked of the database: see writableIssue.)
func searchPathIssues(path []string) []string {
	var issues []string
	lastNamed := -1 // the last schema to look tables up in
	for i, name := range path {
		switch name {
		case "$user":
			issues = append(issues, `"$user" names whichever schema is called like the current role, not a fixed one`)
		case "public":
			issues = append(issues, "public is in it: every role could create objects there before PostgreSQL 15, and still can wherever CREATE on it was granted")
		}
		if name != "" && name != "pg_catalog" && name != "pg_temp" {
			lastNamed = i
		}
	}
	temp := slices.Index(path, "pg_temp")
	switch {
	case lastNamed < 0 || temp > lastNamed:
	case temp < 0:
		issues = append(issues, "pg_temp is not listed last, so PostgreSQL searches the caller's temporary schema first: a temporary table named like one the function reads stands in for it")
	default:
		issues = append(issues, fmt.Sprintf("pg_temp comes before %s, so a temporary table the caller creates can stand in for a table the function reads", ident(path[lastNamed])))
	}
	return issues
}

// writableIssue describes a schema of a pinned search_path that roles
// other than the function's owner can write to, or create.
func writableIssue(schema string, exists bool, writers []string) string {
	who := strings.Join(writers, ", ")
	if len(writers) > 5 {
		who = fmt.Sprintf("%s and %d more", strings.Join(writers[:5], ", "), len(writers)-5)
	}
	if !exists {
		return fmt.Sprintf("schema %s does not exist, and %s may create it (CREATE on the database) and fill it with objects the function would use", ident(schema), who)
	}
	return fmt.Sprintf("%s may create objects in schema %s, which the function would use with its owner's rights", who, ident(schema))
}

// splitSearchPath splits a search_path setting as proconfig stores it,
// `"$user", public` or `""`, into schema names, unquoting quoted ones.
func splitSearchPath(s string) []string {
	var names []string
	var b strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' && quoted && i+1 < len(s) && s[i+1] == '"':
			b.WriteByte('"')
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			names = append(names, b.String())
			b.Reset()
		case (c == ' ' || c == '\t') && !quoted:
		default:
			b.WriteByte(c)
		}
	}
	return append(names, b.String())
}

const invokerPublicWhy = "Any role that can connect may call a function PUBLIC can execute. An invoker function gains it no rights, but it is surface nobody granted on purpose, and turning it SECURITY DEFINER later would expose it at once."

// publicExecute flags a function PUBLIC may execute: an error for a
// SECURITY DEFINER one, which runs with its owner's rights for whoever
// calls it; a warning for an invoker function or procedure of the schema.
// Invoker functions that return trigger are left out (only a trigger can
// call them, and a trigger does not check EXECUTE), and so are those an
// extension created (the extension manages their privileges).
func publicExecute(f *functionInfo, opts Options) []Finding {
	if !f.PublicExecute || (f.kind != "f" && f.kind != "p") {
		return nil
	}
	fix := fmt.Sprintf("REVOKE EXECUTE ON %[1]s %[2]s FROM PUBLIC; and GRANT EXECUTE ON %[1]s %[2]s TO %[3]s; if %[3]s calls it.", f.keyword(), f.qualified, ident(opts.AppRole))
	if f.SecurityDefiner {
		return []Finding{newFinding(RulePublicExecute, f.object(),
			fmt.Sprintf("PUBLIC may execute this SECURITY DEFINER %s, so any role that can connect runs it with the rights of %s", strings.ToLower(f.keyword()), f.Owner), fix)}
	}
	if f.Schema != opts.Schema || f.trigger || f.extension {
		return nil
	}
	finding := newFinding(RulePublicExecute, f.object(),
		"PUBLIC may execute it (the default for a new function): any role that can connect may call it", fix)
	finding.Severity, finding.Why = Warn, invokerPublicWhy
	return []Finding{finding}
}

// definerOwner flags a SECURITY DEFINER function that the role running
// rowgate migrate does not own.
func definerOwner(f *functionInfo, opts Options) []Finding {
	if !f.SecurityDefiner || f.ownerIsMigrator {
		return nil
	}
	return []Finding{newFinding(RuleDefinerOwner, f.object(),
		fmt.Sprintf("owned by %s, not by %s, which owns the tables of schema %s and runs rowgate migrate", f.Owner, f.migrator, ident(opts.Schema)),
		fmt.Sprintf("ALTER %s %s OWNER TO %s; and grant that role only what the function must read.", f.keyword(), f.qualified, ident(f.migrator)))}
}

// definerFunction reports, for review, each SECURITY DEFINER function: who
// it runs as, which policies call it, and what it reads.
func definerFunction(f *functionInfo, opts Options) []Finding {
	if !f.SecurityDefiner {
		return nil
	}
	rights := "an ordinary role, so row level security filters what it reads as it would for that role"
	switch {
	case f.ownerSuper:
		rights = "a superuser, so row level security does not filter what it reads"
	case f.ownerBypass:
		rights = "BYPASSRLS, so row level security does not filter what it reads"
	}
	called := "called by no policy of schema " + ident(opts.Schema)
	if len(f.CalledBy) > 0 {
		called = "called by policies " + strings.Join(f.CalledBy, ", ")
	}
	reads := "what it reads is not recorded (its body is a string, not BEGIN ATOMIC): read its definition in this report"
	switch {
	case f.Reads != nil && len(f.Reads) == 0:
		reads = "it reads no table"
	case f.Reads != nil:
		reads = "it reads " + strings.Join(f.Reads, ", ")
	}
	return []Finding{newFinding(RuleDefinerFunction, f.object(),
		fmt.Sprintf("SECURITY DEFINER: runs as %s, %s; %s; %s", f.Owner, rights, called, reads),
		fmt.Sprintf("Nothing, if intended. Review its definition: STABLE, a pinned search_path, schema-qualified names, EXECUTE for %s only, and only the caller's rows returned.", ident(opts.AppRole)))}
}
