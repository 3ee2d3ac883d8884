// Package doccheck keeps the README and the Markdown pages honest: the
// README stays a front door of at most MaxREADMELines lines, and every
// relative link in README.md, ARCHITECTURE.md and docs/ names a file that
// exists, and a heading that exists when it points into a Markdown page.
package doccheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// MaxREADMELines is the README's length limit: details belong in docs/.
const MaxREADMELines = 250

// Link is one link of a page.
type Link struct {
	Line   int
	Target string
}

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	htmlLink  = regexp.MustCompile(`(?:src|href)="([^"]+)"`)
	htmlID    = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
	codeSpan  = regexp.MustCompile("`[^`]*`")
	heading   = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	inlineURL = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// Links returns the links of a Markdown text, outside code blocks and code
// spans, with their line numbers.
func Links(text string) []Link {
	var out []Link
	forEachProse(text, func(n int, line string) {
		line = codeSpan.ReplaceAllString(line, "")
		for _, re := range []*regexp.Regexp{mdLink, htmlLink} {
			for _, m := range re.FindAllStringSubmatch(line, -1) {
				out = append(out, Link{Line: n, Target: m[1]})
			}
		}
	})
	return out
}

// Anchors returns the anchors of a Markdown text's headings, as GitHub
// makes them (lower case, punctuation dropped, spaces as hyphens, a
// repeated heading suffixed -1, -2, ...), and of its <a name|id> tags.
func Anchors(text string) map[string]bool {
	out := map[string]bool{}
	count := map[string]int{}
	forEachProse(text, func(_ int, line string) {
		for _, m := range htmlID.FindAllStringSubmatch(line, -1) {
			out[m[1]] = true
		}
		m := heading.FindStringSubmatch(line)
		if m == nil {
			return
		}
		s := Slug(m[1])
		if n := count[s]; n > 0 {
			out[s+"-"+strconv.Itoa(n)] = true
		} else {
			out[s] = true
		}
		count[s]++
	})
	return out
}

// Slug is GitHub's anchor of a heading's text.
func Slug(h string) string {
	h = inlineURL.ReplaceAllString(h, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '_', r == '-':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// Problem is a link that does not resolve.
type Problem struct {
	File string
	Link
	Why string
}

// CheckLinks checks every relative link of the Markdown file at path (a
// path under root): its file must exist, and an anchor into a Markdown page
// must name one of its headings.
func CheckLinks(root, path string) ([]Problem, error) {
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		return nil, err
	}
	var out []Problem
	for _, l := range Links(string(b)) {
		t := l.Target
		if strings.Contains(t, "://") || strings.HasPrefix(t, "mailto:") || strings.HasPrefix(t, "<") {
			continue
		}
		file, anchor, _ := strings.Cut(t, "#")
		target := filepath.Join(root, path)
		if file != "" {
			target = filepath.Join(root, filepath.Dir(path), filepath.FromSlash(file))
		}
		if _, err := os.Stat(target); err != nil {
			out = append(out, Problem{File: path, Link: l, Why: "no such file"})
			continue
		}
		if anchor == "" || !strings.HasSuffix(target, ".md") {
			continue
		}
		page, err := os.ReadFile(target)
		if err != nil {
			return nil, err
		}
		if !Anchors(string(page))[anchor] {
			out = append(out, Problem{File: path, Link: l, Why: "no heading with the anchor #" + anchor})
		}
	}
	return out, nil
}

// forEachProse calls fn for every line outside fenced code blocks.
func forEachProse(text string, fn func(n int, line string)) {
	fence := ""
	for i, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(t, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fence = t[:3]
			continue
		}
		fn(i+1, line)
	}
}
