package audit

import (
	"strconv"
	"strings"
)

// exprContext is what the expression rules need to know about the
// database: which function oids read the caller's identity (the accessor
// and pg_catalog.current_setting), the name of every operator that appears
// in a policy, and every function a policy calls.
type exprContext struct {
	identity  map[string]string         // function oid → name
	operators map[string]string         // operator oid → name
	functions map[string]calledFunction // function oid → what it is
}

// calledFunction is what policy_per_row_call knows of a function that a
// policy calls.
type calledFunction struct {
	name       string // qualified unless in the audited schema or pg_catalog
	volatility string // pg_proc.provolatile: i, s or v
	language   string // sql, plpgsql, internal, c, ...
	result     string // its result type, as format_type prints it
}

// refsRow reports whether the expression reads a column of the row the
// policy is checking. A VAR belongs to the policy's row when its
// varlevelsup equals the number of sub-queries around it.
func refsRow(it item) bool { return refsRowAt(it, 0) }

// refsRowAt is refsRow for an expression that already sits inside depth
// sub-queries of the policy clause.
func refsRowAt(it item, depth int) bool {
	found := false
	it.walk(depth, func(n *node, depth int) bool {
		if n.typ == "VAR" && n.tok("varlevelsup") == strconv.Itoa(depth) {
			found = true
		}
		return !found
	})
	return found
}

// isFalseOrNull reports a boolean constant that admits nothing: false or
// NULL.
func isFalseOrNull(n *node) bool {
	if n == nil || n.typ != "CONST" || n.tok("consttype") != "16" {
		return false
	}
	if n.tok("constisnull") == "true" {
		return true
	}
	for _, f := range n.fields {
		if f.name == "constvalue" && len(f.val) > 0 {
			// ":constvalue 1 [ 0 0 0 0 0 0 0 0 ]": a length, then the
			// datum's bytes, all zero for false.
			for _, v := range f.val[1:] {
				if v.tok != "[" && v.tok != "]" && v.tok != "0" {
					return false
				}
			}
			return true
		}
	}
	return false
}

// admitsEveryRow reports whether the expression is true for every row no
// matter who owns it: it does not read the row at all (a constant true, an
// identity test such as app_user_id() IS NULL), or it compares an
// expression with itself, or it is an OR with such a disjunct, or an AND of
// such conjuncts.
func (x exprContext) admitsEveryRow(it item) bool {
	n := it.node
	if n == nil {
		return false
	}
	if n.typ == "BOOLEXPR" {
		switch n.tok("boolop") {
		case "or":
			for _, a := range n.args() {
				if x.admitsEveryRow(a) {
					return true
				}
			}
			return false
		case "and":
			for _, a := range n.args() {
				if !x.admitsEveryRow(a) {
					return false
				}
			}
			return true
		}
	}
	if !refsRow(it) {
		return !isFalseOrNull(n)
	}
	return x.isTautology(n)
}

// isTautology reports X = X, X <= X or X >= X: true for every row where X
// is not NULL.
func (x exprContext) isTautology(n *node) bool {
	if n.typ != "OPEXPR" {
		return false
	}
	switch x.operators[n.tok("opno")] {
	case "=", "<=", ">=":
	default:
		return false
	}
	args := n.args()
	return len(args) == 2 && args[0].canonical() == args[1].canonical()
}

// perRowIdentityCalls returns the identity functions the expression calls
// outside any sub-select: PostgreSQL calls those once per row instead of
// once per statement.
func (x exprContext) perRowIdentityCalls(it item) []string {
	var calls []string
	it.walk(0, func(n *node, depth int) bool {
		if depth == 0 && n.typ == "FUNCEXPR" {
			if name, ok := x.identity[n.tok("funcid")]; ok {
				calls = append(calls, name)
			}
		}
		return true
	})
	return calls
}

// perRowCall is a function call in a policy clause that PostgreSQL makes
// once for every row.
type perRowCall struct {
	fn calledFunction
	// rowArgs: its arguments read the row, so it cannot simply be hoisted;
	// column names the row's column when the first argument is one.
	rowArgs bool
	column  int
	// arrayOfAny: the call is the array operand of = ANY (...).
	arrayOfAny bool
}

// perRowCalls finds the function calls (FUNCEXPR, not casts, operators or
// the identity functions, which identity_per_row covers) that run once per
// row:
//
//   - a call outside any sub-select whose arguments read no column of the
//     row, of a function that is not immutable: it could run once per
//     statement as (select f()). Immutable functions are left out, since
//     PostgreSQL folds them when their arguments are constants. The
//     outermost such call is reported, not the calls inside it.
//   - a call, at any depth, whose arguments read the row, of a function
//     that is not immutable and written in SQL or a procedural language,
//     so that each call may run a query of its own.
//
// A call inside a sub-select (a SUBLINK: (select f()), col IN (select f()),
// ARRAY(select f())) with no reference to the row is an InitPlan or a hashed
// SubPlan, run once per statement, and is fine.
func (x exprContext) perRowCalls(it item) []perRowCall {
	var calls []perRowCall
	x.findCalls(it, nil, 0, &calls)
	return calls
}

func (x exprContext) findCalls(it item, parent *node, depth int, calls *[]perRowCall) {
	if it.isList {
		for _, v := range it.list {
			x.findCalls(v, parent, depth, calls)
		}
		return
	}
	n := it.node
	if n == nil {
		return
	}
	if n.typ == "QUERY" {
		depth++
	}
	if call, ok := x.perRowCall(n, parent, depth); ok {
		*calls = append(*calls, call)
		if !call.rowArgs {
			return // hoisted, it takes its arguments along
		}
	}
	for _, f := range n.fields {
		for _, v := range f.val {
			x.findCalls(v, n, depth, calls)
		}
	}
}

// perRowCall decides whether one FUNCEXPR at depth sub-queries is a
// per-row call (see perRowCalls).
func (x exprContext) perRowCall(n, parent *node, depth int) (perRowCall, bool) {
	if n.typ != "FUNCEXPR" {
		return perRowCall{}, false
	}
	// funcformat 0 is f(...), 3 is SQL syntax such as EXTRACT; 1 and 2
	// are casts.
	if f := n.tok("funcformat"); f != "0" && f != "3" {
		return perRowCall{}, false
	}
	fn, known := x.functions[n.tok("funcid")]
	_, identity := x.identity[n.tok("funcid")]
	if !known || identity || fn.volatility == "i" {
		return perRowCall{}, false
	}
	args, _ := n.get("args")
	call := perRowCall{fn: fn, rowArgs: refsRowAt(args, depth)}
	if !call.rowArgs {
		call.arrayOfAny = parent != nil && parent.typ == "SCALARARRAYOPEXPR" && len(parent.args()) == 2 && parent.args()[1].node == n
		return call, depth == 0
	}
	if len(n.args()) > 0 {
		call.column, _ = columnOf(n.args()[0])
	}
	return call, fn.language != "internal" && fn.language != "c"
}

// readsIdentity reports an expression that calls an identity function and
// reads no column of the row: the caller's id, however it is wrapped.
func (x exprContext) readsIdentity(it item) bool {
	calls := false
	it.walk(0, func(n *node, _ int) bool {
		if n.typ == "FUNCEXPR" {
			_, calls = x.identity[n.tok("funcid")]
		}
		return !calls
	})
	return calls && !refsRow(it)
}

// identityColumns returns the attribute numbers of the row's columns that
// the expression compares with the caller's identity, as in
// user_id = (SELECT app_user_id()). Casts around the column are looked
// through.
func (x exprContext) identityColumns(it item) []int {
	var cols []int
	it.walk(0, func(n *node, depth int) bool {
		if depth > 0 || (n.typ != "OPEXPR" && n.typ != "SCALARARRAYOPEXPR") {
			return true
		}
		args := n.args()
		if len(args) != 2 {
			return true
		}
		for i, a := range args {
			if col, ok := columnOf(a); ok && x.readsIdentity(args[1-i]) {
				cols = append(cols, col)
			}
		}
		return true
	})
	return cols
}

// columnOf returns the attribute number when it is a column of the
// policy's row, possibly under a cast or a COLLATE.
func columnOf(it item) (int, bool) {
	n := it.node
	for n != nil {
		switch n.typ {
		case "VAR":
			if n.tok("varlevelsup") != "0" {
				return 0, false
			}
			attno, err := strconv.Atoi(n.tok("varattno"))
			return attno, err == nil && attno > 0
		case "RELABELTYPE", "COERCEVIAIO", "COLLATEEXPR":
			next, _ := n.get("arg")
			n = next.node
		case "FUNCEXPR":
			// funcformat 1 and 2 are explicit and implicit casts.
			if f := n.tok("funcformat"); (f != "1" && f != "2") || len(n.args()) != 1 {
				return 0, false
			}
			n = n.args()[0].node
		default:
			return 0, false
		}
	}
	return 0, false
}

// disjuncts splits a deparsed "(a OR b OR c)" into its top-level parts,
// respecting parentheses and quotes. It returns nil when text is not such
// a disjunction.
func disjuncts(text string) []string {
	if !strings.HasPrefix(text, "(") || !strings.HasSuffix(text, ")") {
		return nil
	}
	inner := text[1 : len(text)-1]
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(inner); i++ {
		switch c := inner[i]; c {
		case '\'', '"':
			for i++; i < len(inner) && inner[i] != c; i++ {
			}
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return nil // the outer parentheses did not match each other
			}
		case ' ':
			if depth == 0 && strings.HasPrefix(inner[i:], " OR ") {
				parts = append(parts, inner[start:i])
				start = i + len(" OR ")
				i += len(" OR ") - 1
			}
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return append(parts, inner[start:])
}
