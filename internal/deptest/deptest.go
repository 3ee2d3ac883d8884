// Package deptest checks the import graph against layering rules: which
// package may not depend on which. The project's own rules are in its
// test, so a broken rule fails `go test ./...`.
package deptest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
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
	args := append([]string{"list", "-deps", "-e", "-json=ImportPath,Imports,Error"}, patterns...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	g := Graph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
			Error      *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list in %s: decode: %w", dir, err)
		}
		if p.Error != nil {
			return nil, fmt.Errorf("go list in %s: package %s: %s", dir, p.ImportPath, p.Error.Err)
		}
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
	pkgs := make([]string, 0, len(g))
	for p := range g {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
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
