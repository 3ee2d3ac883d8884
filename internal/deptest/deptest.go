// Package deptest checks the import graph against layering rules: which
// package may not depend on which, and which identifiers only some
// packages may use. The project's own rules are in its
// test, so a broken rule fails `go test ./...`.
package deptest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Graph maps each package to the packages it imports directly (test files
// excluded).
type Graph map[string][]string

// Load lists the packages matching patterns, and all they depend on, with
// `go list -deps` run in dir.
func Load(ctx context.Context, dir string, patterns ...string) (Graph, error) {
	pkgs, err := goList(ctx, dir, append([]string{"-deps", "-e", "-json=ImportPath,Imports,Error"}, patterns...))
	if err != nil {
		return nil, err
	}
	g := Graph{}
	for _, p := range pkgs {
		g[p.ImportPath] = p.Imports
	}
	return g, nil
}

// Rule says that package From (and, with Subtree, the packages below it)
// must not depend on any of Deny. A Deny entry also covers the packages
// below it ("go.etcd.io/bbolt" covers "go.etcd.io/bbolt/errors"). With
// Direct only direct imports count; otherwise every transitive one does.
// A rule whose From package does not exist does not apply.
type Rule struct {
	From    string
	Subtree bool
	Deny    []string
	Direct  bool
	Why     string
}

// Violation is a broken rule with the import chain that breaks it.
type Violation struct {
	Rule  Rule
	Chain []string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s must not depend on %s (%s): %s", v.Chain[0], v.Chain[len(v.Chain)-1], v.Rule.Why, strings.Join(v.Chain, " -> "))
}

func covers(deny, pkg string) bool {
	return pkg == deny || strings.HasPrefix(pkg, deny+"/")
}

// Check returns every violation of rules in g, sorted.
func Check(g Graph, rules []Rule) []Violation {
	var out []Violation
	pkgs := slices.Sorted(maps.Keys(g))
	for _, r := range rules {
		for _, p := range pkgs {
			if p != r.From && !(r.Subtree && strings.HasPrefix(p, r.From+"/")) {
				continue
			}
			denied := func(q string) bool { return slices.ContainsFunc(r.Deny, func(d string) bool { return covers(d, q) }) }
			for _, chain := range reach(g, p, r.Direct) {
				// Report a denied package once, not again for what it imports.
				if denied(chain[len(chain)-1]) && !slices.ContainsFunc(chain[1:len(chain)-1], denied) {
					out = append(out, Violation{Rule: r, Chain: chain})
				}
			}
		}
	}
	return out
}

// reach returns, for every package p depends on, the shortest import chain
// from p to it (direct imports only when direct is set).
func reach(g Graph, p string, direct bool) [][]string {
	var out [][]string
	seen := map[string]bool{p: true}
	queue := [][]string{{p}}
	for len(queue) > 0 {
		chain := queue[0]
		queue = queue[1:]
		imports := slices.Clone(g[chain[len(chain)-1]])
		sort.Strings(imports)
		for _, q := range imports {
			if seen[q] {
				continue
			}
			seen[q] = true
			next := append(slices.Clone(chain), q)
			out = append(out, next)
			if !direct {
				queue = append(queue, next)
			}
		}
	}
	return out
}

// Sources maps each package to its non-test Go files (absolute paths).
type Sources map[string][]string

// LoadSources lists the non-test Go files of the packages matching
// patterns, with `go list` run in dir.
func LoadSources(ctx context.Context, dir string, patterns ...string) (Sources, error) {
	pkgs, err := goList(ctx, dir, append([]string{"-e", "-json=ImportPath,Dir,GoFiles,CgoFiles,Error"}, patterns...))
	if err != nil {
		return nil, err
	}
	src := Sources{}
	for _, p := range pkgs {
		for _, f := range append(p.GoFiles, p.CgoFiles...) {
			src[p.ImportPath] = append(src[p.ImportPath], filepath.Join(p.Dir, f))
		}
	}
	return src, nil
}

// UseRule says that the identifiers Names may be selected (x.Name: a
// method, field or package member) only in the non-test files of the
// packages Allow. It guards an API meant for tests and fixtures: test
// files are never checked.
type UseRule struct {
	Names []string
	Allow []string
	Why   string
}

// UseViolation is a use of a guarded identifier outside the packages
// allowed.
type UseViolation struct {
	Rule UseRule
	Pkg  string
	Pos  string // file:line:column
	Name string
}

func (v UseViolation) String() string {
	return fmt.Sprintf("%s: %s uses %s, which only %s may use (%s)", v.Pos, v.Pkg, v.Name, strings.Join(v.Rule.Allow, ", "), v.Rule.Why)
}

// CheckUses parses the files of src and returns every use that breaks
// rules, sorted by package and position.
func CheckUses(src Sources, rules []UseRule) ([]UseViolation, error) {
	fset := token.NewFileSet()
	var out []UseViolation
	for _, p := range slices.Sorted(maps.Keys(src)) {
		for _, path := range src[p] {
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return nil, fmt.Errorf("parse %s: %w", path, err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				for _, r := range rules {
					if slices.Contains(r.Names, sel.Sel.Name) && !slices.Contains(r.Allow, p) {
						out = append(out, UseViolation{Rule: r, Pkg: p, Pos: fset.Position(sel.Sel.Pos()).String(), Name: sel.Sel.Name})
					}
				}
				return true
			})
		}
	}
	return out, nil
}

// listed is a package as `go list -json` describes it (the fields the
// -json= list asks for; the others stay empty).
type listed struct {
	ImportPath, Dir   string
	Imports           []string
	GoFiles, CgoFiles []string
	Error             *struct{ Err string }
}

// goList runs `go list args...` in dir and returns the packages it lists;
// a package go list could not load is an error.
func goList(ctx context.Context, dir string, args []string) ([]listed, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"list"}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, fmt.Errorf("go list in %s: decode: %w", dir, err)
		}
		if p.Error != nil {
			return nil, fmt.Errorf("go list in %s: package %s: %s", dir, p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
}
