package watcher

import (
	"path/filepath"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/ppsync/ppsync/internal/results"
)

// Filter applies an inbox's include and exclude globs. Patterns are
// matched case-insensitively with '/' between folders:
//   - a pattern without '/' matches the name of a file or folder at any
//     depth ("*.tmp", "#recycle", ".Trash-*");
//   - a pattern with '/' matches the path relative to the inbox, with **
//     for any number of folders ("archive/**", "**/drafts/*.pdf").
//
// An excluded folder is pruned with everything below it.
type Filter struct {
	root             string
	include, exclude []pattern
	skip             []string // processed_dir, failed_dir
}

// pattern is a lower-cased glob; literal ones are compared as strings.
type pattern struct {
	glob    string
	path    bool // contains '/': matched against the relative path
	literal bool // no glob syntax
}

func compile(globs []string) []pattern {
	ps := make([]pattern, 0, len(globs))
	for _, g := range globs {
		g = strings.ToLower(g)
		ps = append(ps, pattern{glob: g, path: strings.Contains(g, "/"), literal: !strings.ContainsAny(g, `*?[{\`)})
	}
	return ps
}

// NewFilter builds the filter of one inbox.
func NewFilter(in Inbox) *Filter {
	f := &Filter{root: filepath.Clean(in.Path), include: compile(in.Include), exclude: compile(in.Exclude)}
	for _, d := range []string{in.ProcessedDir, in.FailedDir} {
		if d != "" {
			f.skip = append(f.skip, filepath.Clean(d))
		}
	}
	return f
}

// rel is p relative to the inbox, lower-cased, with '/' separators; ok is
// false when p is not inside the inbox.
func (f *Filter) rel(p string) (string, bool) {
	r, err := filepath.Rel(f.root, p)
	if err != nil || r == "." || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", false
	}
	return strings.ToLower(filepath.ToSlash(r)), true
}

// matchAny reports whether rel (or its last element, for patterns without
// '/') matches one of patterns.
func matchAny(patterns []pattern, rel string) bool {
	name := rel[strings.LastIndex(rel, "/")+1:]
	for _, p := range patterns {
		target := name
		if p.path {
			target = rel
		}
		if p.literal {
			if p.glob == target {
				return true
			}
			continue
		}
		if ok, _ := doublestar.Match(p.glob, target); ok {
			return true
		}
	}
	return false
}

// SkipDir reports whether the folder p (below the inbox) is pruned: a
// dot-folder, ppsync's own processed or failed folder, or excluded.
func (f *Filter) SkipDir(p string) bool {
	if strings.HasPrefix(filepath.Base(p), ".") {
		return true
	}
	clean := filepath.Clean(p)
	for _, d := range f.skip {
		if clean == d {
			return true
		}
	}
	rel, ok := f.rel(p)
	if !ok {
		return false
	}
	// doublestar lets "folder/**" match the folder itself, so it prunes it.
	return matchAny(f.exclude, rel)
}

// File reports whether the file p is one of the inbox's documents: not
// ppsync's own output, included and not excluded. It does not look at the
// folders above p (the walker prunes those).
func (f *Filter) File(p string) bool {
	if results.IsOwnOutput(filepath.Base(p)) {
		return false
	}
	rel, ok := f.rel(p)
	if !ok {
		return false
	}
	return !matchAny(f.exclude, rel) && matchAny(f.include, rel)
}

// Inside reports whether p lies in a folder the filter prunes (a path
// named by an event, whose folders the walker never saw).
func (f *Filter) Inside(p string) bool {
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		if _, ok := f.rel(d); !ok {
			return false
		}
		if f.SkipDir(d) {
			return true
		}
	}
}
