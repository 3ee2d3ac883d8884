//go:build !windows

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/samples"
)

// TestCrashLedgerOneRowPerDocument runs the real binary over a batch of
// PDFs and receipt photos with a ledger in results_dir, SIGKILLs it at
// random moments (some during a ledger write, which comes at start-up and
// two seconds after results), and checks after every kill that the ledger
// on disk parses whole and lists no document twice, and after a last
// uninterrupted run that it has exactly one row per document.
//
//	PPSYNC_CRASH_LEDGER_KILLS (6), PPSYNC_CRASH_LEDGER_FILES (120), PPSYNC_CRASH_SEED (random, logged)
func TestCrashLedgerOneRowPerDocument(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: builds the binary and kills it repeatedly for about 15 seconds")
	}
	kills := envInt("PPSYNC_CRASH_LEDGER_KILLS", 6)
	nFiles := envInt("PPSYNC_CRASH_LEDGER_FILES", 120)
	seed, rng := crashSeed(t, fmt.Sprintf("ledger crash: %d kills, %d files, ", kills, nFiles), 7)

	bin := buildDaemon(t)
	emu, srv := crashEmulator(t, seed, 400*time.Millisecond)

	root := t.TempDir()
	inbox := filepath.Join(root, "inbox")
	ledger := filepath.Join(root, "results", "ledger.csv")
	cfgPath := filepath.Join(root, "ppsync.toml")
	cfg := fmt.Sprintf(`[api]
base_url = %q
api_key = "pp_test_crash"
rate_window = "1s"
[state]
path = "state.db"
[upload]
batch_window = "150ms"
max_batch_files = 4
[poll]
interval = "100ms"
[admin]
listen = "off"
[[inbox]]
path = "inbox"
parser_id = "prs_invoice"
recursive = true
settle = "100ms"
results_dir = "results"
ledger = "ledger.csv"
`, srv.URL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	// Distinct documents, every fifth one also dropped as a copy (same
	// document, one row).
	docs := map[string]bool{} // sha256 of each distinct content
	for i := range nFiles {
		var b []byte
		var err error
		name := fmt.Sprintf("dept-%d/invoice %03d.pdf", i%3, i)
		if i%6 == 5 {
			name = fmt.Sprintf("receipts/receipt %03d.jpg", i)
			b, err = samples.ReceiptJPEG(samples.GenerateReceipt(seed, i))
		} else {
			b, err = samples.Generate(seed, i, 1+i%2).PDF()
		}
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		docs[hex.EncodeToString(sum[:])] = true
		names := []string{name}
		if i%5 == 0 {
			names = append(names, fmt.Sprintf("copies/copy %03d%s", i, filepath.Ext(name)))
		}
		for _, n := range names {
			p := filepath.Join(inbox, filepath.FromSlash(n))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	var logs bytes.Buffer
	var seen []int // ledger rows after each kill
	for range kills {
		runAndKill(t, bin, cfgPath, &logs, time.Duration(500+rng.IntN(2500))*time.Millisecond)
		if _, err := os.Stat(ledger); err == nil {
			seen = append(seen, ledgerRows(t, ledger, docs))
		}
	}
	t.Logf("ledger rows after each kill: %v", seen)
	out := runOnce(t, bin, cfgPath)
	if got := ledgerRows(t, ledger, docs); got != len(docs) {
		t.Errorf("ledger has %d rows, want one per document: %d (seed %d)", got, len(docs), seed)
	}
	if st := emu.Stats(); st.DocumentsCreated != len(docs) {
		t.Errorf("documents_created=%d, want %d", st.DocumentsCreated, len(docs))
	}
	noTempLeft(t, root, ".ppsync-lease.json")
	if t.Failed() {
		t.Logf("daemon output (tail):\n%s", tailStr(logs.String()+out, 6000))
	}
}

// ledgerRows checks that the ledger parses whole, lists every document at
// most once, and lists only known documents; it returns its row count.
func ledgerRows(t *testing.T, path string, docs map[string]bool) int {
	t.Helper()
	recs := readCSVLedger(t, path)
	header := recs[0]
	idCol, shaCol := slices.Index(header, "document_id"), slices.Index(header, "sha256")
	if idCol < 0 || shaCol < 0 {
		t.Fatalf("ledger header %q", header)
	}
	ids, shas := map[string]bool{}, map[string]bool{}
	for _, r := range recs[1:] {
		if len(r) != len(header) {
			t.Errorf("torn row %q", r)
			continue
		}
		if ids[r[idCol]] || shas[r[shaCol]] {
			t.Errorf("document listed twice: %q", r)
		}
		ids[r[idCol]], shas[r[shaCol]] = true, true
		if !docs[r[shaCol]] {
			t.Errorf("row for unknown content: %q", r)
		}
	}
	return len(recs) - 1
}
