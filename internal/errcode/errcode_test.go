package errcode_test

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/errcode"
	"github.com/ppsync/ppsync/internal/filecheck"
	"github.com/ppsync/ppsync/internal/pdfcheck"
)

var update = flag.Bool("update", false, "regenerate the error table of docs/errors.md from the catalogue")

// codeLike is how every code looks: upper-case words joined by underscores.
// A literal counts as a code when it has an underscore (EMPTY_FILE); a
// one-word code (CONFLICT) is found by its constant's name, Code...
var (
	codeLike    = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)
	literalCode = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)
)

// notCodes are literals that look like codes but name something else. An
// entry here needs a reason; a new code belongs in the catalogue instead.
func notCode(s string) bool {
	switch {
	case strings.HasPrefix(s, "PP_"), strings.HasPrefix(s, "PPSYNC_"):
		return true // environment variables (PP_API_KEY, PPSYNC_TEST_HEAVY, ...)
	case s == "TOO_LARGE":
		return true // a part of a code that internal/notify looks for in codes it does not know
	}
	return false
}

// writtenCodes returns every code-like string literal in the non-test Go
// files under the module's internal/ and cmd/, with where it stands.
func writtenCodes(t *testing.T) map[string][]string {
	t.Helper()
	root := filepath.Join("..", "..")
	found := map[string][]string{}
	fset := token.NewFileSet()
	for _, top := range []string{"internal", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			add := func(lit *ast.BasicLit, re *regexp.Regexp) {
				s, err := strconv.Unquote(lit.Value)
				if err != nil || !re.MatchString(s) || notCode(s) {
					return
				}
				rel, _ := filepath.Rel(root, fset.Position(lit.Pos()).Filename)
				if at := rel + ":" + strconv.Itoa(fset.Position(lit.Pos()).Line); !slices.Contains(found[s], at) {
					found[s] = append(found[s], at)
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.ValueSpec: // const CodeConflict = "CONFLICT"
					for i, name := range n.Names {
						if lit, ok := valueAt(n, i).(*ast.BasicLit); ok && lit.Kind == token.STRING && strings.HasPrefix(name.Name, "Code") {
							add(lit, codeLike)
						}
					}
				case *ast.BasicLit:
					if n.Kind == token.STRING {
						add(n, literalCode)
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return found
}

func valueAt(v *ast.ValueSpec, i int) ast.Expr {
	if i < len(v.Values) {
		return v.Values[i]
	}
	return nil
}

// TestEveryWrittenCodeHasAnEntry: every code any package can write (a
// constant in apitypes, pdfcheck, filecheck, uploader, finish, a literal
// handed to the finisher or set on a record) has a catalogue entry.
func TestEveryWrittenCodeHasAnEntry(t *testing.T) {
	found := writtenCodes(t)
	// The scan must see the constants it is meant to guard: were it to
	// find nothing, the test would pass for nothing.
	for _, c := range []string{
		apitypes.CodeInvalidPayload, apitypes.CodeSchemaAlreadyExists, apitypes.CodeRateLimited, apitypes.CodeConflict,
		pdfcheck.CodeNotPDF, pdfcheck.CodeTooManyPages, filecheck.CodeValidationCrashed, filecheck.CodeMismatch,
		"NAME_TOO_LONG", "WAITING_FOR_CREDITS", "NOT_IN_ANSWER", "SUBMISSION_REFUSED", // uploader
		"RESULT_UNAVAILABLE", "REJECTED_IN_REVIEW", "RESULT_MISMATCH", "EXTRACTION_FAILED", // finish
		"HTTP_404", "BAD_RESPONSE", // api
	} {
		if _, ok := found[c]; !ok {
			t.Errorf("the scan of internal/ and cmd/ did not find %s: the scan is broken", c)
		}
	}
	var missing []string
	for c, where := range found {
		if !errcode.Known(c) {
			missing = append(missing, c+" (at "+strings.Join(where, ", ")+")")
		}
	}
	slices.Sort(missing)
	for _, m := range missing {
		t.Errorf("code %s has no entry in internal/errcode: add its meaning, charge, retry and fix", m)
	}
}

// TestCatalogue: each entry is complete, each code is listed once.
func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range errcode.All() {
		if seen[e.Code] {
			t.Errorf("%s is listed twice", e.Code)
		}
		seen[e.Code] = true
		if !codeLike.MatchString(e.Code) && e.Code != errcode.HTTPStatus {
			t.Errorf("%q does not look like a code", e.Code)
		}
		if e.Origin == "" || len(e.Meaning) < 20 || len(e.Fix) < 20 {
			t.Errorf("%s: origin, meaning or fix missing: %+v", e.Code, e)
		}
		if !strings.HasSuffix(e.Meaning, ".") || !strings.HasSuffix(strings.TrimRight(e.Fix, ")"), ".") {
			t.Errorf("%s: meaning and fix are sentences: %+v", e.Code, e)
		}
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		code, want  string
		ok, charged bool
	}{
		{"NOT_A_PDF", "NOT_A_PDF", true, false},
		{"not_a_pdf", "NOT_A_PDF", true, false},
		{" EXTRACTION_FAILED ", "EXTRACTION_FAILED", true, true},
		{"HTTP_413", "HTTP_413", true, false},
		{"HTTP_502", "HTTP_502", true, false},
		{"HTTP_", "", false, false},
		{"HTTP_5023", "", false, false},
		{"HTTP_50x", "", false, false},
		{"NO_SUCH_CODE", "", false, false},
		{"", "", false, false},
	}
	for _, tt := range tests {
		e, ok := errcode.Lookup(tt.code)
		if ok != tt.ok || e.Code != tt.want || e.Charged != tt.charged {
			t.Errorf("Lookup(%q) = %q %v charged %v, want %q %v charged %v", tt.code, e.Code, ok, e.Charged, tt.want, tt.ok, tt.charged)
		}
	}
	generic, _ := errcode.Lookup("HTTP_502")
	specific, _ := errcode.Lookup("HTTP_413")
	if generic.Meaning == specific.Meaning {
		t.Error("HTTP_413 has an entry of its own, not the generic one")
	}
	// A caller cannot change the catalogue through what it is handed.
	all := errcode.All()
	all[0].Fix = "changed"
	if e, _ := errcode.Lookup(all[0].Code); e.Fix == "changed" {
		t.Error("All hands out the catalogue itself")
	}
}

const (
	beginMark = "<!-- errcode table: generated by go test ./internal/errcode -update; do not edit -->\n"
	endMark   = "<!-- end of errcode table -->\n"
)

// TestDocsTable: docs/errors.md holds the catalogue's table as it is now;
// -update writes it.
func TestDocsTable(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "errors.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, beginMark), strings.Index(doc, endMark)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the markers %q and %q around the error table", path, beginMark, endMark)
	}
	want := errcode.Table()
	if got := doc[i+len(beginMark) : j]; got != want {
		if *update {
			if err := os.WriteFile(path, []byte(doc[:i+len(beginMark)]+want+doc[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("%s's error table differs from the catalogue: run go test ./internal/errcode -update", path)
	}
	// Every code of the catalogue is in the table (the table is the
	// catalogue's rendering, so this guards Table itself).
	for _, e := range errcode.All() {
		if !strings.Contains(want, "| `"+e.Code+"` |") {
			t.Errorf("the table lacks %s", e.Code)
		}
	}
}

// TestImportsNothingHeavy: every package may take its explanations from
// here, so the catalogue imports the standard library only.
func TestImportsNothingHeavy(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s: the catalogue imports the standard library only", name, p)
			}
		}
	}
}
