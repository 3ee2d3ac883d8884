package demo_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/demo"
)

// The demo processes its samples against its in-process emulator: every
// valid sample gets a result beside it, the broken one is refused, and
// the ledger is written.
func TestRunOnce(t *testing.T) {
	dir := t.TempDir()
	var out, log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := demo.Run(ctx, demo.Options{Dir: dir, Once: true, Out: &out, Log: &log}); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), log.String())
	}
	for _, want := range []string{"6 done, 0 failed, 1 refused before upload", "✗ broken-scan.pdf", "✓ receipt-photo.jpg → receipt-photo.jpg.json"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, f := range []string{"invoice-acme.pdf.json", "receipt-photo.jpg.json", "invoices.csv"} {
		if _, err := os.Stat(filepath.Join(dir, "inbox", f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
