package config

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// locator finds the line of a dotted key ("api.rate_window",
// "inbox[1].settle" or "inbox.settle") by reading the file's table headers.
type locator struct {
	lines map[string]int
}

var (
	tableRe  = regexp.MustCompile(`^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]`)
	arrayRe  = regexp.MustCompile(`^\s*\[\[\s*([A-Za-z0-9_.\-]+)\s*\]\]`)
	keyValRe = regexp.MustCompile(`^\s*([A-Za-z0-9_\-]+)\s*=`)
)

func newLocator(data []byte) *locator {
	l := &locator{lines: map[string]int{}}
	counts := map[string]int{}
	table, generic := "", ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	add := func(k string, line int) {
		if _, ok := l.lines[k]; !ok {
			l.lines[k] = line
		}
	}
	for sc.Scan() {
		n++
		s := sc.Text()
		if m := arrayRe.FindStringSubmatch(s); m != nil {
			idx := counts[m[1]]
			counts[m[1]]++
			table = fmt.Sprintf("%s[%d]", m[1], idx)
			generic = m[1]
			add(table, n)
			add(generic, n)
			continue
		}
		if m := tableRe.FindStringSubmatch(s); m != nil {
			table, generic = m[1], m[1]
			add(table, n)
			continue
		}
		if m := keyValRe.FindStringSubmatch(s); m != nil {
			if table == "" {
				add(m[1], n)
			} else {
				add(table+"."+m[1], n)
				add(generic+"."+m[1], n)
			}
		}
	}
	return l
}

func (l *locator) line(key string) int {
	if n, ok := l.lines[key]; ok {
		return n
	}
	// A key with a default is absent from the file: point at its table.
	if i := strings.LastIndex(key, "."); i > 0 {
		return l.line(key[:i])
	}
	return 0
}

func suggest(key string) string {
	known := knownKeys()
	best, bestD := "", 4
	for _, k := range known {
		if d := levenshtein(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		// Right key, wrong table?
		leaf := key[strings.LastIndex(key, ".")+1:]
		for _, k := range known {
			if strings.HasSuffix(k, "."+leaf) {
				return k
			}
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
