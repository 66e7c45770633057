package audit

import (
	"reflect"
	"testing"
)

// A USING clause as PostgreSQL 15 stores it:
// ((select app_user_id()) is null) or (owner = app_user_id()).
const orTree = `{BOOLEXPR :boolop or :args ({NULLTEST :arg {SUBLINK :subLinkType 4 :subLinkId 0 :testexpr <> :operName <> :subselect {QUERY :commandType 1 :rtable <> :jointree {FROMEXPR :fromlist <> :quals <>} :targetList ({TARGETENTRY :expr {FUNCEXPR :funcid 16426 :funcresulttype 25 :funcformat 0 :args <> :location 37} :resno 1 :resname app_user_id :resjunk false}) :stmt_len 0} :location 29} :nulltesttype 0 :argisrow false :location 52} {OPEXPR :opno 98 :opfuncid 67 :args ({VAR :varno 1 :varattno 2 :vartype 25 :varlevelsup 0 :location 63} {FUNCEXPR :funcid 16426 :funcresulttype 25 :funcformat 0 :args <> :location 71}) :location 69}) :location 60}`

func TestParseNodeTree(t *testing.T) {
	n, err := parseNodeTree(orTree)
	if err != nil {
		t.Fatal(err)
	}
	if n.typ != "BOOLEXPR" || n.tok("boolop") != "or" || len(n.args()) != 2 {
		t.Fatalf("parsed %+v", n)
	}
	x := exprContext{identity: map[string]string{"16426": "app_user_id"}, operators: map[string]string{"98": "="}}
	if !x.admitsEveryRow(item{node: n}) {
		t.Error("an IS NULL disjunct on the identity must admit every row")
	}
	if got := x.perRowIdentityCalls(item{node: n}); !reflect.DeepEqual(got, []string{"app_user_id"}) {
		t.Errorf("per-row calls = %v, want the bare one only", got)
	}
	if got := x.identityColumns(item{node: n}); !reflect.DeepEqual(got, []int{2}) {
		t.Errorf("identity columns = %v, want [2]", got)
	}
	if refsRow(n.args()[0]) || !refsRow(n.args()[1]) {
		t.Error("only the second disjunct reads the row")
	}
}

func TestParseNodeTreeEscapesAndErrors(t *testing.T) {
	n, err := parseNodeTree(`{ALIAS :aliasname a\ \{b\} :colnames ("x" "y\)") :n \:notafield}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.tok("aliasname"); got != "a {b}" {
		t.Errorf("aliasname = %q", got)
	}
	if got := n.tok("n"); got != ":notafield" {
		t.Errorf("escaped colon = %q, want a value", got)
	}
	for _, bad := range []string{"{VAR :varno 1", "{VAR :varno 1} extra", "(1 2", "{}"} {
		if _, err := parseNodeTree(bad); err == nil {
			t.Errorf("parseNodeTree(%q) succeeded", bad)
		}
	}
	if n, err := parseNodeTree(""); n != nil || err != nil {
		t.Errorf("empty tree = %v, %v", n, err)
	}
}

func TestIsFalseOrNull(t *testing.T) {
	for tree, want := range map[string]bool{
		`{CONST :consttype 16 :constisnull false :location 29 :constvalue 1 [ 0 0 0 0 0 0 0 0 ]}`: true,
		`{CONST :consttype 16 :constisnull true :location 29 :constvalue <>}`:                     true,
		`{CONST :consttype 16 :constisnull false :location 29 :constvalue 1 [ 1 0 0 0 0 0 0 0 ]}`: false,
		`{CONST :consttype 23 :constisnull false :location 29 :constvalue 4 [ 0 0 0 0 0 0 0 0 ]}`: false,
	} {
		n, err := parseNodeTree(tree)
		if err != nil {
			t.Fatal(err)
		}
		if got := isFalseOrNull(n); got != want {
			t.Errorf("isFalseOrNull(%s) = %v", tree, got)
		}
	}
}

func TestDisjuncts(t *testing.T) {
	for text, want := range map[string][]string{
		"((a IS NULL) OR (b = 'x OR y'::text) OR c)": {"(a IS NULL)", "(b = 'x OR y'::text)", "c"},
		`(("odd OR name" = 1) OR (f((x OR y))))`:     {`("odd OR name" = 1)`, "(f((x OR y)))"},
		"(a = b)":                                    nil,
		"(a) OR (b)":                                 nil,
		"true":                                       nil,
	} {
		if got := disjuncts(text); !reflect.DeepEqual(got, want) {
			t.Errorf("disjuncts(%s) = %q, want %q", text, got, want)
		}
	}
}

func TestMarkdownEscaping(t *testing.T) {
	for in, want := range map[string]string{
		"app_user_id() is *not* <b>":   `app_user_id() is \*not\* \<b\>`,
		"_lead and trail_ | [link](x)": `\_lead and trail\_ \| \[link\](x)`,
	} {
		if got := text(in); got != want {
			t.Errorf("text(%q) = %q, want %q", in, got, want)
		}
	}
	if got := code("a `b` c"); got != "``a `b` c``" {
		t.Errorf("code = %q", got)
	}
	if got := code("`x`"); got != "`` `x` ``" {
		t.Errorf("code = %q", got)
	}
	if got := codeCell("a|b"); got != "`a\\|b`" {
		t.Errorf("codeCell = %q", got)
	}
	if got := fenced("x ``` y", "sql"); got != "````sql\nx ``` y\n````\n" {
		t.Errorf("fenced = %q", got)
	}
}
