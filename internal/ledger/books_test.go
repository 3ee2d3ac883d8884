package ledger_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/ledger"
)

type noParsers struct{}

func (noParsers) Parser(context.Context, string) (apitypes.Parser, error) {
	return apitypes.Parser{}, errors.New("the API does not answer")
}

// TestBooksKeepResultsWrittenBeforeTheRowsOnDisk writes a result while a
// ledger's rows on disk are not read yet (a run stopped at once): the
// ledger written at the end has the rows on disk and the new one.
func TestBooksKeepResultsWrittenBeforeTheRowsOnDisk(t *testing.T) {
	for _, name := range []string{"stopped at once", "ran"} {
		t.Run(name, func(t *testing.T) {
			inbox := t.TempDir()
			writeResults(t, inbox, 3)
			path := filepath.Join(t.TempDir(), "ledger.csv")
			b, err := ledger.NewBooks([]ledger.Inbox{{Path: inbox, Ledger: path, ParserID: "prs", Format: ledger.Format{Separator: ',', Decimal: '.'}},
				{Path: t.TempDir()}}, noParsers{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			src := filepath.Join(inbox, "new.pdf")
			if err := os.WriteFile(src+".json", result(t, doc{file: src, docID: "doc_new", vendor: "N", total: 5}), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if name == "stopped at once" {
				cancel()
				b.Written(inbox, src, src+".json", true)
			}
			if err := b.Recover(ctx); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- b.Run(ctx) }()
			if name == "ran" {
				b.Written(inbox, src, src+".json", true)
				cancel()
			}
			if err := <-done; err != nil {
				t.Fatalf("Run = %v", err)
			}
			if recs := readCSV(t, path, ','); len(recs) != 5 {
				t.Fatalf("%d records, want the header, 3 rows on disk and the new one: %v", len(recs), recs)
			}
		})
	}
}
