package results_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
