package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readCSVLedger reads a ledger written with the default format.
func readCSVLedger(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		t.Errorf("%s: no UTF-8 byte-order mark", path)
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("%s: %v (torn?)\n%s", path, err, b)
	}
	return recs
}

func TestLedgerRebuildCommand(t *testing.T) {
	cfg, _ := setup(t, map[string][]byte{"a.pdf": invoice(t, 1), "b.pdf": invoice(t, 2), "c.pdf": invoice(t, 3)})
	appendConfig(t, cfg, "ledger = \"invoices.csv\"\n")
	env := map[string]string{"TEST_PP_KEY": "pp_test_cli"}
	if code, out, errOut := run(t, env, "run", "-c", cfg, "--once"); code != 0 {
		t.Fatalf("run: %d\n%s\n%s", code, out, errOut)
	}
	ledger := filepath.Join(filepath.Dir(cfg), "inbox", "invoices.csv")
	want := readCSVLedger(t, ledger)
	if len(want) != 4 || want[0][2] != "vendor_name" {
		t.Fatalf("ledger after the run: %q", want)
	}
	if err := os.Remove(ledger); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := run(t, env, "ledger", "rebuild", "-c", cfg)
	if code != 0 || !strings.Contains(out, "invoices.csv: 3 documents") {
		t.Fatalf("ledger rebuild: %d\n%s\n%s", code, out, errOut)
	}
	got := readCSVLedger(t, ledger)
	if len(got) != len(want) || strings.Join(got[0], ",") != strings.Join(want[0], ",") {
		t.Errorf("rebuilt ledger differs:\n%q\nwant\n%q", got, want)
	}

	// Without a key the columns come from the documents' own keys.
	code, out, _ = run(t, nil, "ledger", "rebuild", "-c", cfg)
	if code != 0 || !strings.Contains(out, "3 documents") || !strings.Contains(out, "columns from the documents' keys") {
		t.Errorf("ledger rebuild without a key: %d\n%s", code, out)
	}
	if got := readCSVLedger(t, ledger); len(got) != 4 {
		t.Errorf("ledger without a key: %d lines", len(got))
	}
}

func TestLedgerRebuildWithoutLedgerSays(t *testing.T) {
	cfg, _ := setup(t, nil)
	code, _, errOut := run(t, nil, "ledger", "rebuild", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, "has a ledger") {
		t.Errorf("ledger rebuild with no ledger configured: %d %s", code, errOut)
	}
}
