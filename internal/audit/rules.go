package audit

// Rule describes one check: its stable id, its usual severity and one line
// on why it matters. docs/audit.md explains each at length; a test keeps
// the two in step.
type Rule struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	Why      string   `json:"why"`
}

// The rule ids. They are stable: tooling may match on them.
const (
	RuleRLSDisabled           = "rls_disabled"
	RuleRLSNotForced          = "rls_not_forced"
	RulePolicyRLSDisabled     = "policy_exists_rls_disabled"
	RuleNoPolicy              = "rls_enabled_no_policy"
	RuleAlwaysTrue            = "policy_always_true"
	RuleUpdateWithoutCheck    = "update_without_check"
	RuleIdentityPerRow        = "identity_per_row"
	RulePerRowCall            = "policy_per_row_call"
	RuleMultiplePermissive    = "multiple_permissive_policies"
	RuleAppRoleBypasses       = "app_role_bypasses"
	RuleViewNotInvoker        = "view_not_security_invoker"
	RuleDefinerSearchPath     = "security_definer_search_path"
	RulePublicExecute         = "function_public_execute"
	RuleDefinerOwner          = "definer_function_owner"
	RuleDefinerFunction       = "definer_function"
	RuleUnindexedPolicyColumn = "unindexed_policy_column"
	RulePolicyDrift           = "policy_drift"
)

var rules = []Rule{
	{RuleRLSDisabled, Error, "Without row level security every role with a table privilege reads and writes every row: no policy applies."},
	{RuleRLSNotForced, Error, "The table owner bypasses row level security unless it is forced, so a connection as the owner sees and changes every row."},
	{RulePolicyRLSDisabled, Error, "Policies do nothing while row level security is disabled: the table looks protected in review but is not."},
	{RuleNoPolicy, Info, "With no permissive policy for a command, row level security denies that command to the app role entirely; fine if intended, a bug if not."},
	{RuleAlwaysTrue, Error, "A clause that is true whatever the row holds (a constant, a test of the identity alone, X = X) admits every row, whoever owns it."},
	{RuleUpdateWithoutCheck, Error, "Without WITH CHECK the new row is checked only by USING, implicitly; loosen USING later and an update can hand a row to another owner."},
	{RuleIdentityPerRow, Warn, "Called bare, the identity accessor runs once per row; wrapped as (select ...) PostgreSQL runs it once per statement (an InitPlan)."},
	{RulePerRowCall, Warn, "A function called in a policy outside a sub-select runs once for every row the statement reads; in the InitPlan form, (select f()) or col IN (select f()), PostgreSQL runs it once per statement."},
	{RuleMultiplePermissive, Warn, "Permissive policies are OR-ed: each one widens access, so two for the same role and command are harder to review and slower."},
	{RuleAppRoleBypasses, Error, "A superuser, a BYPASSRLS role, a table owner, or a member of one, is not filtered by row level security at all."},
	{RuleViewNotInvoker, Error, "A view runs with its owner's rights unless security_invoker is set, and the owner usually bypasses row level security."},
	{RuleDefinerSearchPath, Error, "A SECURITY DEFINER function resolves names through its search_path with its owner's rights: unless that path is pinned to schemas only the owner can write, with pg_temp last, a caller can make it use their own tables or functions."},
	{RulePublicExecute, Error, "PUBLIC may execute a SECURITY DEFINER function, so every role that can connect runs it with its owner's rights, not only the app role."},
	{RuleDefinerOwner, Warn, "A SECURITY DEFINER function runs with its owner's rights: owned by another role than the one that runs rowgate migrate, it can do what that role can, and migrate does not manage it."},
	{RuleDefinerFunction, Info, "A SECURITY DEFINER function runs with its owner's rights, not the caller's: a reviewer should see each one, who it runs as and what it reads."},
	{RuleUnindexedPolicyColumn, Warn, "Every statement filters by the column a policy compares with the identity; without an index leading with it, each one scans the table."},
	{RulePolicyDrift, Error, "The live policies are not the reviewed ones in rls/: a hand-made change is in force, or a reviewed one is missing."},
}

// Rules returns every rule the audit checks, in a stable order.
func Rules() []Rule { return append([]Rule(nil), rules...) }

func ruleByID(id string) Rule {
	for _, r := range rules {
		if r.ID == id {
			return r
		}
	}
	panic("audit: unknown rule " + id)
}

// newFinding builds a finding of rule at the rule's usual severity.
func newFinding(rule, object, detail, fix string) Finding {
	r := ruleByID(rule)
	return Finding{Rule: rule, Severity: r.Severity, Object: object, Detail: detail, Why: r.Why, Fix: fix}
}
