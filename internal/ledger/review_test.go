package ledger

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/results"
)

func TestLedgerLeavesOutOrMarksHeldResults(t *testing.T) {
	for _, held := range []bool{false, true} {
		t.Run(map[bool]string{false: "left out", true: "marked"}[held], func(t *testing.T) {
			dir := t.TempDir()
			a, b := filepath.Join(dir, "a.pdf"), filepath.Join(dir, "b.pdf")
			doc := json.RawMessage(`{"document_id":"doc_%s","status":"completed","page_count":1,"extracted_data":{"invoice_number":"%s"}}`)
			mk := func(id string) json.RawMessage { return json.RawMessage(strings.ReplaceAll(string(doc), "%s", id)) }
			if err := results.WriteResultAt(results.ResultPath(a), mk("A"), results.Source{Path: a, SHA256: "sa"}, ""); err != nil {
				t.Fatal(err)
			}
			if err := results.WriteHeldAt(results.ReviewPath(b), mk("B"), results.Source{Path: b, SHA256: "sb"}, "",
				json.RawMessage(`{"status":"to review","reasons":[{"rule":"sums"}]}`)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "ledger.csv")
			l, err := New(Options{Path: path, InboxRoot: dir, Delay: time.Hour, Held: held})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Load(context.Background(), dir); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(strings.TrimPrefix(string(got), "\uFEFF"), "\r", "")), "\n")
			if !held {
				if len(lines) != 2 || strings.Contains(string(got), "doc_B") || strings.Contains(lines[0], ReviewColumn) {
					t.Fatalf("a held result reached the ledger:\n%s", got)
				}
				return
			}
			if len(lines) != 3 || !strings.HasSuffix(lines[0], ","+ReviewColumn) {
				t.Fatalf("ledger:\n%s", got)
			}
			for _, ln := range lines[1:] {
				if strings.Contains(ln, "doc_B") != strings.HasSuffix(ln, ",to review") {
					t.Fatalf("row %q: only the held result is marked", ln)
				}
			}
			// Approved: the same file's result replaces the marked row.
			data, _ := os.ReadFile(results.ResultPath(a))
			if r, ok := RowFromResult(data, dir); !ok || r.Review != "" {
				t.Fatalf("a delivered result is marked: %+v", r)
			}
		})
	}
}
