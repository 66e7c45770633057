package audit

import (
	"sort"
	"time"
)

// Severity ranks a finding. Only Error fails an audit.
type Severity string

// The severities, from most to least serious.
const (
	Error Severity = "error"
	Warn  Severity = "warn"
	Info  Severity = "info"
)

func (s Severity) rank() int {
	switch s {
	case Error:
		return 0
	case Warn:
		return 1
	}
	return 2
}

// Report is the result of one audit: what the database holds, as
// PostgreSQL prints it, and what is wrong with it. Every slice is sorted, so
// two audits of the same database render the same document.
type Report struct {
	Database      string    `json:"database"`
	Schema        string    `json:"schema"`
	AuditedAs     string    `json:"audited_as"`
	ServerVersion string    `json:"server_version"`
	GeneratedAt   time.Time `json:"generated_at"`
	// DriftChecked is false when the auditing role could not install rls/
	// for comparison; a policy_drift warning then says why.
	DriftChecked bool       `json:"drift_checked"`
	AppRole      Role       `json:"app_role"`
	Accessor     *Function  `json:"accessor"`
	Tables       []Table    `json:"tables"`
	Views        []View     `json:"views"`
	Functions    []Function `json:"functions"`
	Findings     []Finding  `json:"findings"`
	Summary      Summary    `json:"summary"`
}

// Summary counts the findings by severity.
type Summary struct {
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Info     int `json:"info"`
}

// Table is an ordinary or partitioned table of the audited schema.
type Table struct {
	Name       string   `json:"name"`
	RLSEnabled bool     `json:"rls_enabled"`
	RLSForced  bool     `json:"rls_forced"`
	Comment    *string  `json:"comment"`
	Policies   []Policy `json:"policies"`
}

// Policy is one row of pg_policies with its COMMENT ON text. Using and
// Check are the expressions as PostgreSQL deparses them; nil when absent.
type Policy struct {
	Name       string   `json:"name"`
	Command    string   `json:"command"`
	Roles      []string `json:"roles"`
	Permissive bool     `json:"permissive"`
	Using      *string  `json:"using"`
	Check      *string  `json:"with_check"`
	Comment    *string  `json:"comment"`
}

// View is a view of the audited schema.
type View struct {
	Name            string  `json:"name"`
	SecurityInvoker bool    `json:"security_invoker"`
	Comment         *string `json:"comment"`
}

// Function is a function or procedure of the audited schema, or a
// SECURITY DEFINER function elsewhere that a policy of the schema calls.
// Signature is as PostgreSQL prints it with the audited schema as
// search_path (so unqualified in that schema). Reads lists the tables and
// views a BEGIN ATOMIC body reads, and is nil for a string body, for which
// PostgreSQL records nothing. Definition is filled in for the identity
// accessor and for SECURITY DEFINER functions.
type Function struct {
	Signature       string   `json:"signature"`
	Schema          string   `json:"schema"`
	SecurityDefiner bool     `json:"security_definer"`
	SearchPath      *string  `json:"search_path"`
	Owner           string   `json:"owner"`
	PublicExecute   bool     `json:"public_execute"`
	CalledBy        []string `json:"called_by"`
	Reads           []string `json:"reads"`
	Definition      *string  `json:"definition"`
	Comment         *string  `json:"comment"`
}

// Role is the runtime role the policies are written for, with every role
// it is a member of, directly or not.
type Role struct {
	Name        string   `json:"name"`
	Exists      bool     `json:"exists"`
	Superuser   bool     `json:"superuser"`
	BypassRLS   bool     `json:"bypass_rls"`
	CreateRole  bool     `json:"create_role"`
	CreateDB    bool     `json:"create_db"`
	Replication bool     `json:"replication"`
	Login       bool     `json:"login"`
	MemberOf    []string `json:"member_of"`
	Owns        []string `json:"owns"`
}

// Finding is one thing wrong with the database. Rule is a stable id (see
// docs/audit.md); Object names what is wrong, Detail says what exactly,
// Why says why it matters and Fix what to do.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Object   string   `json:"object"`
	Detail   string   `json:"detail"`
	Why      string   `json:"why"`
	Fix      string   `json:"fix"`
}

// HasErrors reports whether any finding has severity Error: the audit
// fails.
func (r *Report) HasErrors() bool { return r.Summary.Errors > 0 }

// Has reports whether the report holds a finding of rule with severity sev.
func (r *Report) Has(rule string, sev Severity) bool {
	for _, f := range r.Findings {
		if f.Rule == rule && f.Severity == sev {
			return true
		}
	}
	return false
}

// finish sorts the findings (severity, rule, object, detail) and counts
// them.
func (r *Report) finish() {
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.Severity != b.Severity {
			return a.Severity.rank() < b.Severity.rank()
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		return a.Detail < b.Detail
	})
	r.Summary = Summary{}
	for _, f := range r.Findings {
		switch f.Severity {
		case Error:
			r.Summary.Errors++
		case Warn:
			r.Summary.Warnings++
		default:
			r.Summary.Info++
		}
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
}
