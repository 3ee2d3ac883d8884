package uploader_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/uploader"
)

// BenchmarkIdempotencyKey50 derives the key of a full batch.
func BenchmarkIdempotencyKey50(b *testing.B) {
	shas := make([]string, 50)
	for i := range shas {
		shas[i] = fmt.Sprintf("%064x", i*7919)
	}
	for b.Loop() {
		_ = uploader.IdempotencyKey("prs_invoice", shas)
	}
}

// BenchmarkFormBatches5000 forms the batch intents for 5,000 queued
// documents (100 batches of 50), each committed to the state.
func BenchmarkFormBatches5000(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		st, err := state.Open(filepath.Join(dir, "s.db"), time.Second)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Update(func(tx *state.Tx) error {
			for i := range 5000 {
				sha := fmt.Sprintf("%064x", i)
				if err := tx.SeedDoc(state.Doc{Key: state.DocKey("prs", sha), ParserID: "prs", SHA256: sha, Size: 1000, Pages: 1,
					State: state.DocQueued, Files: []string{fmt.Sprintf("/in/f%d.pdf", i)}}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		u := uploader.New(uploader.Options{Store: st, MaxBatchFiles: 50, MaxBatchBytes: 256 << 20,
			CreditRecheck: time.Minute, Once: true})
		if err := u.Recover(); err != nil {
			b.Fatal(err)
		}
		u.IntakeClosed()
		b.StartTimer()
		if n := u.FormAll(); n != 100 {
			b.Fatalf("%d batches", n)
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
}
