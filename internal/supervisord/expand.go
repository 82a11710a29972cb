package supervisord

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// PerProcess are the expansions supervisord fills in for each process of a
// program. Parse leaves them in place so that each copy of a numprocs
// program gets its own; config expands them per instance.
var PerProcess = map[string]bool{"program_name": true, "process_num": true, "group_name": true, "numprocs": true}

// format is Python's %(name)<flags><width><type>.
var format = regexp.MustCompile(`^%\(([^)]*)\)([-#0 +]*\d*(?:\.\d+)?)([sdi])`)

// expand does what supervisord's `value % expansions` does for the
// expansions known when the file is read: %(ENV_X)s, %(here)s and
// %(host_node_name)s are replaced, %% becomes %, and the per-process
// expansions are kept for later. Anything else after a % is an error, as
// in supervisord (write %% for a literal %).
func expand(s string, vars map[string]string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		s = s[i:]
		if strings.HasPrefix(s, "%%") {
			b.WriteByte('%')
			s = s[2:]
			continue
		}
		m := format.FindStringSubmatch(s)
		if m == nil {
			return "", fmt.Errorf("cannot expand %q: a %% must be %%%% or start %%(name)s", clip(s))
		}
		name := m[1]
		switch v, ok := vars[name]; {
		case PerProcess[name]:
			b.WriteString(m[0])
		case !ok && strings.HasPrefix(name, "ENV_"):
			return "", fmt.Errorf("cannot expand %s: %s is not in the environment", m[0], strings.TrimPrefix(name, "ENV_"))
		case !ok:
			return "", fmt.Errorf("cannot expand %s: unknown name %q", m[0], name)
		default:
			out, err := Format(m[2], m[3], v)
			if err != nil {
				return "", fmt.Errorf("cannot expand %s: %w", m[0], err)
			}
			b.WriteString(out)
		}
		s = s[len(m[0]):]
	}
}

// Format applies one Python conversion (flags and width, type s, d or i)
// to v, as in "%(process_num)02d".
func Format(spec, typ, v string) (string, error) {
	if typ == "s" {
		return fmt.Sprintf("%"+spec+"s", v), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return "", fmt.Errorf("%q is not a number", v)
	}
	return fmt.Sprintf("%"+spec+"d", n), nil
}

// ExpandPerProcess replaces the per-process expansions in s with vars;
// other text, a lone % included, is kept.
func ExpandPerProcess(s string, vars map[string]string) string {
	if !strings.Contains(s, "%(") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "%(")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		m := format.FindStringSubmatch(s)
		if v, ok := vars[safeName(m)]; ok && PerProcess[m[1]] {
			if out, err := Format(m[2], m[3], v); err == nil {
				b.WriteString(out)
				s = s[len(m[0]):]
				continue
			}
		}
		b.WriteString("%(")
		s = s[2:]
	}
}

func safeName(m []string) string {
	if m == nil {
		return ""
	}
	return m[1]
}

func clip(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// splitCommand splits like Python's shlex.split, which supervisord uses
// for command: POSIX rules, quotes ' and ", backslash escapes outside
// quotes, and inside "" only before " and \; "" is an empty argument.
func splitCommand(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				args, inWord = append(args, cur.String()), false
				cur.Reset()
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("no escaped character after \\")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == '\'' || c == '"':
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if c == '"' && s[j] == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
					j++
				}
				cur.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, errors.New("no closing quotation")
			}
			i, inWord = j, true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}

// envWordChars are the characters of a word in supervisord's environment
// parser (a non-POSIX shlex with "/.+-():" added to its word characters).
func envWordChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("/.+-():", c) >= 0
}

// envTokens is Python's shlex.shlex (non-POSIX) on s: words, quoted
// strings with their quotes, "#" comments to the end of the line, and any
// other character as a token of its own.
func envTokens(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, errors.New("no closing quotation")
			}
			toks = append(toks, s[i:i+j+2])
			i += j + 2
		case envWordChar(c):
			j := i
			for j < len(s) && (envWordChar(s[j]) || s[j] == '\'' || s[j] == '"') {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			toks = append(toks, s[i:i+1])
			i++
		}
	}
	return toks, nil
}

// parseEnvironment reads supervisord's KEY="val",KEY2=val: quotes allow
// commas and spaces in a value, and are stripped from both ends.
func parseEnvironment(s string) (map[string]string, error) {
	toks, err := envTokens(s)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for i := 0; i < len(toks); i += 4 {
		if i+2 >= len(toks) || toks[i+1] != "=" {
			return nil, fmt.Errorf("unexpected end of KEY=value pairs in %q", s)
		}
		if i+3 < len(toks) && toks[i+3] != "," {
			return nil, fmt.Errorf("expected \",\" after %s=%s, got %q (quote values with spaces or other characters)", toks[i], toks[i+2], toks[i+3])
		}
		env[strings.Trim(toks[i], `'"`)] = strings.Trim(toks[i+2], `'"`)
	}
	return env, nil
}
