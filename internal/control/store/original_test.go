package store

import (
	"context"
	"os"
	"testing"
	"time"
)

// A file no longer in its inbox (nor where after = "move" put it) is said
// to be missing, so the page offers no preview that would answer 404.
func TestFileSaysWhenTheOriginalIsMissing(t *testing.T) {
	f := newFixture(t)
	p := f.add(t, 0, "gone-by-hand.pdf", "done", 1, time.Now())
	fd, err := f.reader.File(context.Background(), p)
	if err != nil || !fd.OriginalMissing {
		t.Fatalf("no file on disk: original_missing %v, %v; want true", fd.OriginalMissing, err)
	}
	if err := os.WriteFile(p, []byte("%PDF-1.4\n%%EOF\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fd, err = f.reader.File(context.Background(), p); err != nil || fd.OriginalMissing {
		t.Fatalf("file on disk: original_missing %v, %v; want false", fd.OriginalMissing, err)
	}
}
