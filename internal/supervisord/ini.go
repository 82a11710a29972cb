package supervisord

import (
	"bufio"
	"bytes"
	"strings"
)

// section is one [name] of an INI file, with its keys in file order.
type section struct {
	name string
	file string
	line int
	keys []entry
}

// entry is one key = value; value is as written (comments and surrounding
// space removed, continuation lines joined with "\n"), not yet expanded.
type entry struct {
	key   string
	value string
	line  int
}

// readINI splits data like supervisord's parser (Python's configparser with
// inline_comment_prefixes ";" and "#", strict=False): a line starting with
// ";" or "#" is a comment, so is the rest of a line from a ";" or "#" after
// whitespace; a line starting with whitespace continues the value above;
// keys are lower-cased; "=" or ":" separates a key from its value; a
// section named twice is one section.
func readINI(file string, data []byte, errs *errorList) []*section {
	var out []*section
	byName := map[string]*section{}
	var cur *section
	var last *entry
	blank := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		raw := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(raw)
		if trimmed == "" || trimmed[0] == ';' || trimmed[0] == '#' {
			if trimmed == "" && last != nil {
				blank++
			}
			continue
		}
		text := strings.TrimSpace(stripInlineComment(raw))
		if raw[0] == ' ' || raw[0] == '\t' {
			if last != nil {
				if text != "" {
					last.value += strings.Repeat("\n", blank+1) + text
				}
				blank = 0
				continue
			}
		}
		blank = 0
		last = nil
		if strings.HasPrefix(text, "[") {
			end := strings.IndexByte(text, ']')
			if end < 0 {
				errs.add(file, n, "", "section header without a closing ]")
				cur = nil
				continue
			}
			name := strings.TrimSpace(text[1:end])
			if cur = byName[name]; cur == nil {
				cur = &section{name: name, file: file, line: n}
				byName[name] = cur
				out = append(out, cur)
			}
			continue
		}
		i := strings.IndexAny(text, "=:")
		if i < 0 {
			errs.add(file, n, "", "expected key = value, got "+quote(text))
			continue
		}
		if cur == nil {
			errs.add(file, n, "", "key before any [section]")
			continue
		}
		key := strings.ToLower(strings.TrimSpace(text[:i]))
		e := entry{key: key, value: strings.TrimSpace(text[i+1:]), line: n}
		cur.keys = setEntry(cur.keys, e)
		last = &cur.keys[indexOf(cur.keys, key)]
	}
	if err := sc.Err(); err != nil {
		errs.add(file, 0, "", "cannot read: "+err.Error())
	}
	return out
}

// setEntry replaces an earlier value of the same key (the last one wins,
// as in configparser with strict=False) or appends.
func setEntry(keys []entry, e entry) []entry {
	if i := indexOf(keys, e.key); i >= 0 {
		keys[i] = e
		return keys
	}
	return append(keys, e)
}

func indexOf(keys []entry, key string) int {
	for i := range keys {
		if keys[i].key == key {
			return i
		}
	}
	return -1
}

// stripInlineComment cuts the line at the first ";" or "#" that follows
// whitespace, as configparser's inline_comment_prefixes do: quotes do not
// protect them, so `command=sh -c "a ; b"` loses " ; b\"" in supervisord too.
func stripInlineComment(line string) string {
	for i := 1; i < len(line); i++ {
		if (line[i] == ';' || line[i] == '#') && (line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}

func (s *section) get(key string) (entry, bool) {
	if i := indexOf(s.keys, key); i >= 0 {
		return s.keys[i], true
	}
	return entry{}, false
}
