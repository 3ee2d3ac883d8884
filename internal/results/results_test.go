package results_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ppsync/ppsync/internal/results"
)

func TestWriteResultAndErrorReplaceEachOther(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "a b.pdf")
	src := results.Source{Path: f, SHA256: strings.Repeat("a", 64), Size: 10}
	if _, err := results.WriteError(f, "X", "bad", src); err != nil {
		t.Fatal(err)
	}
	out, err := results.WriteResult(f, json.RawMessage(`{"document_id":"doc_1","extracted_data":{"k":1}}`), src, "")
	if err != nil {
		t.Fatal(err)
	}
	if out != f+".json" {
		t.Errorf("out = %s", out)
	}
	if _, err := os.Stat(f + ".error.json"); !os.IsNotExist(err) {
		t.Error("stale error file kept")
	}
	b, _ := os.ReadFile(out)
	var r results.Result
	if err := json.Unmarshal(b, &r); err != nil || r.Source != src || !strings.Contains(string(r.Document), "extracted_data") {
		t.Errorf("result = %s", b)
	}
	if got, ok := results.ReadResultSource(f); !ok || got != src {
		t.Errorf("ReadResultSource = %+v %v", got, ok)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left: %v", entries)
	}
}

// A result that cannot be written (here a folder squats on its name, which
// fails even for root) gives an error naming the file and leaves no temp file.
func TestWriteFailsClearlyAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "a.pdf")
	if err := os.MkdirAll(filepath.Join(f+".json", "squatter"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := results.WriteResult(f, nil, results.Source{}, "")
	if err == nil || !strings.Contains(err.Error(), f+".json") {
		t.Fatalf("err = %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp file left behind: %v", entries)
	}
}

func TestIsOwnOutput(t *testing.T) {
	for name, want := range map[string]bool{
		"a.pdf.json": true, "a.pdf.error.json": true, ".a.pdf.json.ppsync-0a1b2c.tmp": true,
		"a.pdf": false, "report.tmp": false,
	} {
		if results.IsOwnOutput(name) != want {
			t.Errorf("IsOwnOutput(%q) != %v", name, want)
		}
	}
}

func TestMoveKeepsRelativePathAndNeverOverwrites(t *testing.T) {
	root := t.TempDir()
	in, dest := filepath.Join(root, "in"), filepath.Join(root, "done")
	f := filepath.Join(in, "2026", "a.pdf")
	for _, p := range []string{f, f + ".json", filepath.Join(dest, "2026", "a.pdf")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	moved, err := results.Move(f, in, dest)
	if err != nil {
		t.Fatal(err)
	}
	if moved != filepath.Join(dest, "2026", "a (1).pdf") {
		t.Errorf("moved to %s", moved)
	}
	if _, err := os.Stat(moved + ".json"); err != nil {
		t.Error("result not moved with the file")
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "2026", "a.pdf")); string(b) != filepath.Join(dest, "2026", "a.pdf") {
		t.Error("existing file overwritten")
	}
}

// A name that is not valid UTF-8 keeps U+FFFD in "path" for readers and its
// exact bytes in "path_bytes", which reading back prefers; a valid name has
// no "path_bytes".
func TestNonUTF8PathRoundTrips(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "r\xe9sum\xff.pdf")
	if err := os.WriteFile(file, []byte("%PDF-1.4\n%%EOF\n"), 0o600); err != nil {
		t.Skipf("this filesystem refuses names that are not valid UTF-8: %v", err)
	}
	plain := filepath.Join(dir, "résumé.pdf")
	for _, tc := range []struct {
		name, file string
		write      func(src results.Source) (string, error)
	}{
		{"error", file, func(src results.Source) (string, error) {
			return results.WriteError(src.Path, "invalid_pdf", "bad", src)
		}},
		{"result", file, func(src results.Source) (string, error) {
			return results.WriteResult(src.Path, json.RawMessage(`{"id":"doc_1"}`), src, "")
		}},
		{"result valid name", plain, func(src results.Source) (string, error) {
			return results.WriteResult(src.Path, json.RawMessage(`{"id":"doc_2"}`), src, "")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := results.Source{Path: tc.file, SHA256: strings.Repeat("ab", 32), Size: 15}
			out, err := tc.write(src)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !utf8.Valid(b) {
				t.Fatalf("%s is not valid UTF-8:\n%s", out, b)
			}
			var raw struct {
				Source map[string]any `json:"source"`
			}
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			gotBytes, hasBytes := raw.Source["path_bytes"].(string)
			if utf8.ValidString(tc.file) {
				if hasBytes || raw.Source["path"] != tc.file {
					t.Errorf("valid name: source = %v, want path %q and no path_bytes", raw.Source, tc.file)
				}
			} else {
				if want := filepath.Join(dir, "r\uFFFDsum\uFFFD.pdf"); raw.Source["path"] != want {
					t.Errorf("path = %q, want the name with U+FFFD for each invalid byte", raw.Source["path"])
				}
				if dec, err := base64.StdEncoding.DecodeString(gotBytes); err != nil || string(dec) != tc.file {
					t.Errorf("path_bytes = %q (decoded %q, %v), want base64 of %q", gotBytes, dec, err, tc.file)
				}
			}
			var back struct {
				Source results.Source `json:"source"`
			}
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back.Source != src {
				t.Errorf("decoded source = %+v, want %+v", back.Source, src)
			}
		})
	}
	if got, ok := results.ReadResultSource(file); !ok || got.Path != file {
		t.Errorf("ReadResultSource = %+v, %v; want the exact name %q", got, ok, file)
	}
}

// tempDir is t.TempDir, except under Wine (test/windows sets PPSYNC_WINE):
// Go's RemoveAll asks for FileDispositionInformationEx, which Wine 8 lacks,
// so the folder is made with os.MkdirTemp and goes with the Wine prefix.
func tempDir(t *testing.T) string {
	t.Helper()
	if os.Getenv("PPSYNC_WINE") == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "ppsync-results-")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRemoveStaleRemovesFilesNeverFolders(t *testing.T) {
	dir := tempDir(t)
	file := filepath.Join(dir, "a.pdf.error.json")
	folder := filepath.Join(dir, "c.pdf.error.json")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, folder, filepath.Join(dir, "missing.pdf.json")} {
		results.RemoveStale(p)
	}
	if _, err := os.Lstat(file); err == nil {
		t.Error("the stale file is still there")
	}
	if fi, err := os.Lstat(folder); err != nil || !fi.IsDir() {
		t.Errorf("a folder carrying an output's name was removed (%v)", err)
	}
}

func TestRemoveStaleRemovesALinkNotItsTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere.txt")
	link := filepath.Join(dir, "b.pdf.error.json")
	if err := os.WriteFile(target, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	results.RemoveStale(link)
	if _, err := os.Lstat(link); err == nil {
		t.Error("the stale link is still there")
	}
	if _, err := os.Lstat(target); err != nil {
		t.Errorf("the link's target went with it: %v", err)
	}
}
