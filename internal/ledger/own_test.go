package ledger_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/ledger"
)

// Result files replaced by a link to a secret outside the inbox (a result
// of a private inbox), by a hard link to it, or reached through a
// symlinked folder never become ledger rows; the results ppsync wrote do.
func TestLedgerListsOnlyResultsPpsyncWrote(t *testing.T) {
	dir := t.TempDir()
	inbox, private := filepath.Join(dir, "inbox"), filepath.Join(dir, "private")
	for _, d := range []string{inbox, private} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mine := filepath.Join(inbox, "mine.pdf")
	if err := os.WriteFile(mine+".json", result(t, doc{file: mine, docID: "doc_mine", vendor: "Mine"}), 0o644); err != nil {
		t.Fatal(err)
	}
	// The secret results record the names they are reached under, so only
	// how they are reached can refuse them.
	secrets := map[string]string{ // name in private -> source it records
		"linked.pdf.json": filepath.Join(inbox, "linked.pdf"),
		"hard.pdf.json":   filepath.Join(inbox, "hard.pdf"),
		"deep.pdf.json":   filepath.Join(inbox, "sub", "deep.pdf"),
	}
	for name, src := range secrets {
		if err := os.WriteFile(filepath.Join(private, name), result(t, doc{file: src, docID: "doc_secret", vendor: "SECRET VENDOR"}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(private, "linked.pdf.json"), filepath.Join(inbox, "linked.pdf.json")); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	if err := os.Symlink(private, filepath.Join(inbox, "sub")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(private, "hard.pdf.json"), filepath.Join(inbox, "hard.pdf.json")); err != nil {
		t.Fatalf("hard link: %v", err)
	}
	path := filepath.Join(dir, "ledger.csv")
	n, err := ledger.Rebuild(context.Background(), ledger.Options{Path: path, InboxRoot: inbox, Schema: schema}, inbox)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || strings.Contains(string(b), "SECRET") || !strings.Contains(string(b), "Mine") {
		t.Errorf("%d rows:\n%s\nwant only mine.pdf's", n, b)
	}
}
