package migrate

import "strings"

// statement is one SQL statement of a script and the byte offset where it
// starts.
type statement struct {
	Offset int
	SQL    string
}

// splitStatements cuts a script at the semicolons that end statements,
// skipping those inside quotes, dollar quotes and comments. It serves only
// to locate a failing statement: the script itself runs whole.
func splitStatements(script string) []statement {
	var out []statement
	start := 0
	emit := func(end int) {
		if s := strings.TrimSpace(script[start:end]); s != "" && !onlyComments(s) {
			lead := leadingNoise(script[start:end])
			out = append(out, statement{Offset: start + lead, SQL: script[start+lead : end]})
		}
	}
	for i := 0; i < len(script); i++ {
		switch c := script[i]; {
		case c == '\'':
			i = skipQuoted(script, i, '\'', i > 0 && (script[i-1] == 'E' || script[i-1] == 'e'))
		case c == '"':
			i = skipQuoted(script, i, '"', false)
		case c == '-' && strings.HasPrefix(script[i:], "--"):
			if j := strings.IndexByte(script[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(script)
			}
		case c == '/' && strings.HasPrefix(script[i:], "/*"):
			i = skipBlockComment(script, i)
		case c == '$':
			i = skipDollarQuoted(script, i)
		case c == ';':
			emit(i + 1)
			start = i + 1
		}
	}
	emit(len(script))
	return out
}

func skipQuoted(s string, i int, q byte, backslash bool) int {
	for j := i + 1; j < len(s); j++ {
		switch {
		case backslash && s[j] == '\\':
			j++
		case s[j] == q && j+1 < len(s) && s[j+1] == q:
			j++
		case s[j] == q:
			return j
		}
	}
	return len(s)
}

func skipBlockComment(s string, i int) int {
	depth := 0
	for j := i; j < len(s)-1; j++ {
		switch s[j : j+2] {
		case "/*":
			depth++
			j++
		case "*/":
			depth--
			j++
			if depth == 0 {
				return j
			}
		}
	}
	return len(s)
}

// skipDollarQuoted skips $tag$...$tag$ when s[i:] opens one; otherwise it
// returns i (a positional parameter such as $1).
func skipDollarQuoted(s string, i int) int {
	end := strings.IndexByte(s[i+1:], '$')
	if end < 0 {
		return i
	}
	tag := s[i : i+end+2]
	for _, r := range tag[1 : len(tag)-1] {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return i
		}
	}
	if len(tag) > 2 && tag[1] >= '0' && tag[1] <= '9' {
		return i
	}
	close := strings.Index(s[i+len(tag):], tag)
	if close < 0 {
		return len(s)
	}
	return i + len(tag) + close + len(tag) - 1
}

func onlyComments(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
			return false
		}
	}
	return true
}

// leadingNoise is the length of the white space and line comments that open
// s, so a statement's offset points at its first keyword.
func leadingNoise(s string) int {
	i := 0
	for i < len(s) {
		switch {
		case strings.ContainsRune(" \t\r\n", rune(s[i])):
			i++
		case strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return len(s)
			}
			i += j + 1
		default:
			return i
		}
	}
	return i
}
