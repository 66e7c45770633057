package audit

import (
	"fmt"
	"strings"
)

// A policy's USING and WITH CHECK are stored as pg_node_tree: PostgreSQL's
// text serialisation of the parsed expression, for example
//
//	{OPEXPR :opno 98 :args ({VAR :varno 1 :varattno 2 ...} {SUBLINK ...}) ...}
//
// The expression rules read this tree rather than the deparsed SQL, because
// the tree says without guessing which names are columns of the row (VAR),
// which are function calls (FUNCEXPR :funcid) and what sits inside a
// sub-select (SUBLINK → QUERY). Only the generic shape is relied on: braces
// for nodes, parentheses for lists, ":field value" pairs and backslash
// escapes, all unchanged since PostgreSQL 7.

// node is one {TYPE :field value ...} of a node tree.
type node struct {
	typ    string
	fields []field
}

// field is one ":name value" of a node; a value is one or more items
// (":constvalue 4 [ 1 0 0 0 ]" has several).
type field struct {
	name string
	val  []item
}

// item is a node, a list, or a bare token.
type item struct {
	node   *node
	list   []item
	isList bool
	tok    string
}

// get returns the first item of field name, if the node has it.
func (n *node) get(name string) (item, bool) {
	for _, f := range n.fields {
		if f.name == name && len(f.val) > 0 {
			return f.val[0], true
		}
	}
	return item{}, false
}

// tok returns the bare token of field name, or "".
func (n *node) tok(name string) string {
	it, _ := n.get(name)
	return it.tok
}

// args returns the :args list of an expression node.
func (n *node) args() []item {
	it, _ := n.get("args")
	return it.list
}

type token struct {
	text    string
	special byte // one of {}() for structure, 0 for a word
	escaped bool // the word began with a backslash escape
}

// tokenize splits a node tree the way PostgreSQL's pg_strtok does: white
// space separates words, {}() stand alone, and a backslash makes the next
// character ordinary.
func tokenize(s string) []token {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			i++
		case c == '{' || c == '}' || c == '(' || c == ')':
			toks = append(toks, token{text: string(c), special: c})
			i++
		default:
			var b strings.Builder
			escaped := c == '\\'
			for i < len(s) && !strings.ContainsRune(" \n\t\r{}()", rune(s[i])) {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
				i++
			}
			toks = append(toks, token{text: b.String(), escaped: escaped})
		}
	}
	return toks
}

// parseNodeTree parses a pg_node_tree text. The empty string (no
// expression) parses to nil.
func parseNodeTree(s string) (*node, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	p := &treeParser{toks: tokenize(s)}
	it, err := p.item()
	if err != nil {
		return nil, err
	}
	if it.node == nil || p.pos != len(p.toks) {
		return nil, fmt.Errorf("audit: unexpected node tree shape near token %d", p.pos)
	}
	return it.node, nil
}

type treeParser struct {
	toks []token
	pos  int
}

func (p *treeParser) item() (item, error) {
	if p.pos >= len(p.toks) {
		return item{}, fmt.Errorf("audit: node tree ends early")
	}
	t := p.toks[p.pos]
	p.pos++
	switch t.special {
	case '{':
		n, err := p.node()
		return item{node: n}, err
	case '(':
		l, err := p.list()
		return item{list: l, isList: true}, err
	case 0:
		return item{tok: t.text}, nil
	}
	return item{}, fmt.Errorf("audit: unexpected %q in node tree", t.text)
}

func (p *treeParser) node() (*node, error) {
	if p.pos >= len(p.toks) || p.toks[p.pos].special != 0 {
		return nil, fmt.Errorf("audit: node without a type in node tree")
	}
	n := &node{typ: p.toks[p.pos].text}
	p.pos++
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		switch {
		case t.special == '}':
			p.pos++
			return n, nil
		case isFieldName(t):
			p.pos++
			n.fields = append(n.fields, field{name: t.text[1:]})
		default:
			it, err := p.item()
			if err != nil {
				return nil, err
			}
			if len(n.fields) == 0 {
				return nil, fmt.Errorf("audit: value before any field in %s", n.typ)
			}
			last := &n.fields[len(n.fields)-1]
			last.val = append(last.val, it)
		}
	}
	return nil, fmt.Errorf("audit: unterminated %s node", n.typ)
}

func (p *treeParser) list() ([]item, error) {
	var l []item
	for p.pos < len(p.toks) {
		if p.toks[p.pos].special == ')' {
			p.pos++
			return l, nil
		}
		it, err := p.item()
		if err != nil {
			return nil, err
		}
		l = append(l, it)
	}
	return nil, fmt.Errorf("audit: unterminated list in node tree")
}

func isFieldName(t token) bool {
	return t.special == 0 && !t.escaped && len(t.text) > 1 && t.text[0] == ':'
}

// canonical renders an item without :location fields, so two expressions
// that differ only in where they were written compare equal.
func (it item) canonical() string {
	var b strings.Builder
	it.writeCanonical(&b)
	return b.String()
}

func (it item) writeCanonical(b *strings.Builder) {
	switch {
	case it.node != nil:
		b.WriteString("{" + it.node.typ)
		for _, f := range it.node.fields {
			if f.name == "location" {
				continue
			}
			b.WriteString(" :" + f.name)
			for _, v := range f.val {
				b.WriteByte(' ')
				v.writeCanonical(b)
			}
		}
		b.WriteByte('}')
	case it.isList:
		b.WriteByte('(')
		for i, v := range it.list {
			if i > 0 {
				b.WriteByte(' ')
			}
			v.writeCanonical(b)
		}
		b.WriteByte(')')
	default:
		b.WriteString(it.tok)
	}
}

// walk visits every node under it, depth first, with the number of
// sub-queries (QUERY nodes) that enclose it. It stops early when visit
// returns false.
func (it item) walk(depth int, visit func(n *node, depth int) bool) bool {
	switch {
	case it.node != nil:
		if it.node.typ == "QUERY" {
			depth++
		}
		if !visit(it.node, depth) {
			return false
		}
		for _, f := range it.node.fields {
			for _, v := range f.val {
				if !v.walk(depth, visit) {
					return false
				}
			}
		}
	case it.isList:
		for _, v := range it.list {
			if !v.walk(depth, visit) {
				return false
			}
		}
	}
	return true
}
