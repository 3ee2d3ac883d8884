package results

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOwnReadsHeldResults(t *testing.T) {
	dir := t.TempDir()
	inbox := filepath.Join(dir, "inbox")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(inbox, "a.pdf")
	src := Source{Path: file, SHA256: strings.Repeat("b", 64), Size: 3}
	held := ReviewPath(file)
	if err := WriteHeldAt(held, json.RawMessage(`{"document_id":"doc_1"}`), src, "", json.RawMessage(`{"reasons":[{"rule":"sums"}]}`)); err != nil {
		t.Fatal(err)
	}
	own := Own{Roots: []string{inbox}}
	for _, source := range []string{file, ""} {
		out, err := own.Read(held, source)
		if err != nil {
			t.Fatalf("read held result (source %q): %v", source, err)
		}
		if out.Review == nil || out.Result != nil || out.Error != nil || out.Source().SHA256 != src.SHA256 || out.HasDocument() {
			t.Fatalf("read as %+v", out)
		}
	}
	// A held result is no result: read as <file>.json it is refused.
	plain := filepath.Join(inbox, "b.pdf.review.json")
	if err := WriteResultAt(plain, json.RawMessage(`{"document_id":"doc_2"}`), Source{Path: filepath.Join(inbox, "b.pdf")}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := own.Read(plain, ""); !errors.Is(err, ErrNotOwn) {
		t.Fatalf("a result file under a review name was read: %v", err)
	}
	// Named after another source: refused.
	other := filepath.Join(inbox, "c.pdf.review.json")
	if err := os.Rename(held, other); err != nil {
		t.Fatal(err)
	}
	if _, err := own.Read(other, ""); !errors.Is(err, ErrNotOwn) {
		t.Fatalf("a held result named after another file was read: %v", err)
	}
	// A symlink is never followed.
	if err := os.Symlink(other, held); err == nil {
		if _, err := own.Read(held, file); !errors.Is(err, ErrNotOwn) {
			t.Fatalf("a symlinked held result was read: %v", err)
		}
	}
}

func TestReviewedResultIsAResult(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.pdf")
	if err := WriteReviewedAt(ResultPath(file), json.RawMessage(`{"document_id":"d","status":"completed"}`), Source{Path: file, SHA256: "x"}, "",
		json.RawMessage(`{"decision":"approved"}`)); err != nil {
		t.Fatal(err)
	}
	out, err := Own{Roots: []string{dir}}.Read(ResultPath(file), file)
	if err != nil || !out.HasDocument() || !strings.Contains(string(out.Data), `"decision": "approved"`) {
		t.Fatalf("read %v: %s", err, out.Data)
	}
}
