package sqlguard

import (
	"fmt"
	"slices"
	"strings"
)

// The checks of declared SQL text
//
// A condition (Policy.Where) is wrapped in parentheses and ANDed with the
// key and the guard; the caller's query (Policy.Query) selects from a
// derived table that holds the guard. Both are SQL text of the
// application, and both are checked once, at declaration, so that no
// rewording can reach around the guard (the lock file lets a condition be
// reworded without approval):
//
//   - a condition must be one balanced expression: its parentheses never
//     close more than they opened and all close, its strings, quoted
//     identifiers and dollar-quoted blocks end, and it holds no ';', no
//     "--" and no "/*" (a comment could swallow the rest of the statement);
//   - the caller's query must start with SELECT (no Prefix: a WITH could
//     shadow the table the guard reads), be balanced the same way, take its
//     rows from the guarded table (the first FROM at the top level is
//     sqlguard's), hold no UNION, INTERSECT, EXCEPT, INTO, FOR or FETCH at
//     the top level, and end, after a top-level LIMIT or OFFSET, with
//     nothing but LIMIT and OFFSET of a placeholder, a number or ALL.
//
// The scanner follows PostgreSQL's lexer where it matters: single-quoted
// strings with '' escapes, E'' strings with backslash escapes, double
// quoted identifiers with "" escapes and $tag$ ... $tag$ blocks are skipped
// whole. A plain string holding a backslash must end at the same place
// whether or not the backslash escapes (standard_conforming_strings on or
// off), or it is refused.

type tokKind uint8

const (
	tokWord   tokKind = iota + 1 // unquoted identifier or keyword (lowercased in text)
	tokQuoted                    // double-quoted identifier (unescaped)
	tokString                    // a string constant of any form
	tokNumber
	tokParam // '?' or $n
	tokPunct // one character: ( ) , . and operators
)

type token struct {
	kind  tokKind
	text  string
	pos   int // byte offset in the text
	depth int // parentheses open around the token ('(' and ')' count outside)
}

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' || c == '$' }

// lexSQL splits s into tokens, refusing what a declared piece of SQL may
// not hold: unbalanced parentheses, an unterminated string, identifier or
// dollar-quoted block, ';', "--" and "/*".
func lexSQL(s string) ([]token, error) {
	var toks []token
	depth := 0
	for i := 0; i < len(s); {
		c := s[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == ';':
			return nil, fmt.Errorf("';' at byte %d: one statement only", i)
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			return nil, fmt.Errorf("comment \"--\" at byte %d", i)
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			return nil, fmt.Errorf("comment \"/*\" at byte %d", i)
		case c == '(':
			toks = append(toks, token{tokPunct, "(", i, depth})
			depth++
			i++
			continue
		case c == ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("')' at byte %d closes a parenthesis it did not open", i)
			}
			toks = append(toks, token{tokPunct, ")", i, depth})
			i++
			continue
		case c == '\'':
			end, err := endString(s, i, false)
			if err != nil {
				return nil, err
			}
			// A server with standard_conforming_strings off reads a
			// backslash in a plain string as an escape: the string must
			// end at the same place either way.
			if strings.IndexByte(s[i:end], '\\') >= 0 {
				if alt, err := endString(s, i, true); err != nil || alt != end {
					return nil, fmt.Errorf("string at byte %d ends elsewhere when a backslash escapes", i)
				}
			}
			toks = append(toks, token{tokString, s[i:end], i, depth})
			i = end
			continue
		case c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("quoted identifier at byte %d does not end", i)
				}
				if s[j] == '"' {
					if j+1 < len(s) && s[j+1] == '"' {
						b.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, token{tokQuoted, b.String(), i, depth})
			i = j + 1
			continue
		case c == '$':
			j := i + 1
			if j < len(s) && '0' <= s[j] && s[j] <= '9' {
				for j < len(s) && '0' <= s[j] && s[j] <= '9' {
					j++
				}
				toks = append(toks, token{tokParam, s[i:j], i, depth})
				i = j
				continue
			}
			if j < len(s) && (s[j] == '$' || isIdentStart(s[j])) {
				for j < len(s) && s[j] != '$' && isIdentChar(s[j]) {
					j++
				}
				if j < len(s) && s[j] == '$' {
					tag := s[i : j+1]
					k := strings.Index(s[j+1:], tag)
					if k < 0 {
						return nil, fmt.Errorf("dollar-quoted string %s at byte %d does not end", tag, i)
					}
					end := j + 1 + k + len(tag)
					toks = append(toks, token{tokString, s[i:end], i, depth})
					i = end
					continue
				}
			}
			toks = append(toks, token{tokPunct, "$", i, depth})
			i++
			continue
		case c == '?':
			toks = append(toks, token{tokParam, "?", i, depth})
			i++
			continue
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			word := strings.ToLower(s[i:j])
			if j < len(s) && s[j] == '\'' && (word == "e" || word == "b" || word == "x" || word == "n") {
				end, err := endString(s, j, word == "e")
				if err != nil {
					return nil, err
				}
				toks = append(toks, token{tokString, s[i:end], i, depth})
				i = end
				continue
			}
			toks = append(toks, token{tokWord, word, i, depth})
			i = j
			continue
		case '0' <= c && c <= '9' || c == '.' && i+1 < len(s) && '0' <= s[i+1] && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && ('0' <= s[j] && s[j] <= '9' || s[j] == '.' || s[j] == '_' ||
				s[j] == 'e' || s[j] == 'E' || (s[j] == '+' || s[j] == '-') && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			toks = append(toks, token{tokNumber, s[i:j], i, depth})
			i = j
			continue
		}
		toks = append(toks, token{tokPunct, s[start : start+1], start, depth})
		i++
	}
	if depth != 0 {
		return nil, fmt.Errorf("%d parentheses do not close", depth)
	}
	return toks, nil
}

// endString returns the end of the string constant starting with the
// quote at s[i]: a doubled quote is a quote inside it, and in an E-string a
// backslash escapes the next byte.
func endString(s string, i int, backslash bool) (int, error) {
	for j := i + 1; j < len(s); j++ {
		switch {
		case backslash && s[j] == '\\':
			j++
		case s[j] == '\'':
			if j+1 < len(s) && s[j+1] == '\'' {
				j++
				continue
			}
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("string at byte %d does not end", i)
}

// checkCondition refuses a condition that is not one balanced expression,
// or that calls a function that reads relations unseen (readsUnseen).
func checkCondition(sql string) error {
	toks, err := lexSQL(sql)
	if err != nil {
		return err
	}
	return readsUnseen(toks)
}

// readsUnseen refuses a call of a built-in function that runs a query
// given as text, or reads a relation, a schema or a database named by a
// string (query_to_xml, table_to_xml, ts_stat, crosstab, dblink, large
// objects, server files): what it reads is invisible to the audit of a
// policy's joins. (A function of the application's own is its code, and
// is not followed.)
func readsUnseen(toks []token) error {
	for i, t := range toks {
		if t.kind != tokWord || i+1 >= len(toks) || toks[i+1].kind != tokPunct || toks[i+1].text != "(" {
			continue
		}
		n := t.text
		if strings.Contains(n, "_to_xml") || strings.HasPrefix(n, "dblink") || strings.HasPrefix(n, "lo_") ||
			strings.HasPrefix(n, "pg_read_") || strings.HasPrefix(n, "pg_ls_") || strings.HasPrefix(n, "crosstab") ||
			slices.Contains([]string{"loread", "ts_stat", "connectby", "xpath_table", "pg_stat_file"}, n) {
			return fmt.Errorf("%s() reads relations the audit cannot see", n)
		}
	}
	return nil
}

// queryCheck checks the rendered caller's query sql, whose FROM clause
// (sqlguard's, holding the guard) is the text from. It returns the other
// relations the query reads (joined, or in subqueries), sorted.
func checkQuery(sql, from string) ([]string, error) {
	if !strings.HasPrefix(sql, "SELECT ") {
		return nil, fmt.Errorf("must start with SELECT (no Prefix)")
	}
	toks, err := lexSQL(sql)
	if err != nil {
		return nil, err
	}
	if err := readsUnseen(toks); err != nil {
		return nil, err
	}
	segStart := -1
	for _, t := range toks {
		if t.kind == tokWord && t.text == "from" && t.depth == 0 {
			if strings.HasPrefix(sql[t.pos:], from) {
				segStart = t.pos
			}
			break
		}
	}
	if segStart < 0 {
		return nil, fmt.Errorf("its rows must come from the policy's table: a FROM at the top level of its columns")
	}
	segEnd := segStart + len(from)
	var rels []string
	type level struct{ sel, inFrom, want bool }
	levels := []level{{}}
	tail := false // after a top-level LIMIT or OFFSET
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.pos >= segStart && t.pos < segEnd {
			if t.pos == segStart {
				levels[0] = level{inFrom: true}
			}
			continue
		}
		for len(levels) <= t.depth+1 {
			levels = append(levels, level{})
		}
		lv := &levels[t.depth]
		if t.kind == tokPunct && t.text == "(" {
			// After FROM, JOIN or a comma, a parenthesis opens a
			// subquery or a parenthesized join: its first word is
			// SELECT, or a relation.
			levels[t.depth+1] = level{inFrom: lv.want, want: lv.want}
		}
		if t.depth == 0 {
			if tail {
				if t.kind == tokWord && (t.text == "limit" || t.text == "offset") && i+1 < len(toks) {
					n := toks[i+1]
					if n.kind == tokParam || n.kind == tokNumber || n.kind == tokWord && n.text == "all" {
						i++
						continue
					}
				}
				return nil, fmt.Errorf("only LIMIT and OFFSET may follow LIMIT or OFFSET, found %q", t.text)
			}
			if t.kind == tokWord {
				switch t.text {
				case "union", "intersect", "except", "into", "for", "fetch":
					return nil, fmt.Errorf("%s at the top level", strings.ToUpper(t.text))
				case "right", "full":
					// A RIGHT or FULL JOIN keeps the rows of its right side
					// that match no guarded row: rows from elsewhere.
					j := i + 1
					if j < len(toks) && toks[j].kind == tokWord && toks[j].text == "outer" {
						j++
					}
					if j < len(toks) && toks[j].kind == tokWord && toks[j].text == "join" {
						return nil, fmt.Errorf("%s JOIN at the top level: it returns rows that are not the policy's table's", strings.ToUpper(t.text))
					}
				case "limit", "offset":
					if t.pos > segStart {
						tail = true
						i--
						continue
					}
				}
			}
		}
		switch {
		case t.kind == tokWord && t.text == "table":
			// TABLE t, wherever it stands (a reserved word): a relation.
			lv.want = true
		case lv.want:
			lv.want = false
			switch {
			case t.kind == tokWord && (t.text == "lateral" || t.text == "only"):
				lv.want = true
			case t.kind == tokWord && t.text == "rows" && i+1 < len(toks) && toks[i+1].kind == tokWord && toks[i+1].text == "from":
				// ROWS FROM (f(...), g(...)): the functions are the items.
				i++
				lv.want = true
			case t.kind == tokWord && t.text == "select":
				lv.sel, lv.inFrom = true, false
			case t.kind == tokWord && (t.text == "values" || t.text == "with"):
				lv.inFrom = false
			case t.kind == tokWord || t.kind == tokQuoted:
				name := t.text
				for i+2 < len(toks) && toks[i+1].text == "." && toks[i+1].kind == tokPunct &&
					(toks[i+2].kind == tokWord || toks[i+2].kind == tokQuoted) {
					name += "." + toks[i+2].text
					i += 2
				}
				if i+1 < len(toks) && toks[i+1].kind == tokPunct && toks[i+1].text == "(" {
					name += "()"
				}
				if !slices.Contains(rels, name) {
					rels = append(rels, name)
				}
			}
		case t.kind == tokWord:
			switch t.text {
			case "select":
				lv.sel, lv.inFrom = true, false
			case "from":
				if lv.sel {
					lv.inFrom, lv.want = true, true
				}
			case "join":
				lv.inFrom, lv.want = true, true
			case "where", "group", "having", "order", "limit", "offset", "window", "returning",
				"union", "intersect", "except", "for", "fetch":
				// The FROM list ends. (ON and USING do not end it: a comma
				// after a join's condition starts the list's next item.)
				lv.inFrom = false
			}
		case t.kind == tokPunct && t.text == "," && lv.inFrom:
			lv.want = true
		}
	}
	slices.Sort(rels)
	return rels, nil
}
