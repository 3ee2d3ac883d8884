package doccheck_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/doccheck"
)

const root = "../.."

// pages are the Markdown files whose links are checked: the README,
// ARCHITECTURE.md and every page of docs/.
func pages(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 10 {
		t.Fatalf("found %d pages in docs/: the glob is wrong", len(docs))
	}
	out := []string{"README.md", "ARCHITECTURE.md"}
	for _, d := range docs {
		rel, _ := filepath.Rel(root, d)
		out = append(out, rel)
	}
	return out
}

// TestREADMEIsAFrontDoor: the README stays short, and keeps the two
// set-up commands literally (.ci/run and docs/testing.md repeat the second).
func TestREADMEIsAFrontDoor(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n > doccheck.MaxREADMELines {
		t.Errorf("README.md has %d lines, over %d: move reference material into docs/", n, doccheck.MaxREADMELines)
	}
	for _, cmd := range []string{"go run ./cmd/ppsync demo", "go test -race -timeout 30m ./..."} {
		if !strings.Contains(string(b), cmd) {
			t.Errorf("README.md lacks the command %q", cmd)
		}
	}
}

// TestLinksResolve: every relative link of the README, ARCHITECTURE.md and
// docs/ names a file that exists, and a heading that exists when it points
// into a Markdown page.
func TestLinksResolve(t *testing.T) {
	total := 0
	for _, p := range pages(t) {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		total += len(doccheck.Links(string(b)))
		probs, err := doccheck.CheckLinks(root, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range probs {
			t.Errorf("%s:%d: link %s: %s", pr.File, pr.Line, pr.Target, pr.Why)
		}
	}
	if total < 100 {
		t.Errorf("found %d links in all the pages: the link parser is broken", total)
	}
}

// TestCheckLinksFindsBrokenOnes: the checker itself, on a page of its own.
func TestCheckLinksFindsBrokenOnes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("docs/b.md", "# B\n\n## Several services on one host (`--name`)\n\n## Twice\n\n## Twice\n\n```\n# not a heading\n```\n")
	write("docs/img/x.png", "png")
	write("README.md", strings.Join([]string{
		"[ok](docs/b.md) [ok](docs/b.md#several-services-on-one-host---name) [ok](docs/b.md#twice-1)",
		"![ok](docs/img/x.png) <img src=\"docs/img/x.png\"> [web](https://example.com/x.md) [self](#top)",
		"[missing](docs/c.md) [bad anchor](docs/b.md#not-a-heading) [third twice](docs/b.md#twice-2)",
		"`[code](docs/none.md)`",
		"```",
		"[in a block](docs/none.md)",
		"```",
		"<a id=\"top\"></a>",
	}, "\n"))
	probs, err := doccheck.CheckLinks(dir, "README.md")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range probs {
		got = append(got, p.Target)
	}
	want := []string{"docs/c.md", "docs/b.md#not-a-heading", "docs/b.md#twice-2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("broken links = %q, want %q", got, want)
	}
}

func TestSlug(t *testing.T) {
	for h, want := range map[string]string{
		"Several services on one host (`--name`)":        "several-services-on-one-host---name",
		"ppsync's own cost, API limits lifted":           "ppsyncs-own-cost-api-limits-lifted",
		"What runs under Wine, and what only on Windows": "what-runs-under-wine-and-what-only-on-windows",
		"In short: the Linux package":                    "in-short-the-linux-package",
		"A [linked](x.md) heading":                       "a-linked-heading",
	} {
		if got := doccheck.Slug(h); got != want {
			t.Errorf("Slug(%q) = %q, want %q", h, got, want)
		}
	}
}
