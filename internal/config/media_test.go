package config_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMediaSettings(t *testing.T) {
	dir := setup(t)
	c, err := parse(t, dir, `
[[inbox]]
path = "scans"
parser_id = "prs_invoice"
types = ["*.PDF", "*.jpg"]
results_dir = "results"
ledger = "invoices.csv"
ledger_separator = ";"
ledger_decimal = ","

[[inbox]]
path = "receipts"
parser_id = "prs_invoice"
include = ["*.jpg"]
ledger = "book.xlsx"
`)
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Inboxes[0], c.Inboxes[1]
	if !slices.Equal(a.Types, []string{"*.pdf", "*.jpg"}) || a.ResultsDir != filepath.Join(dir, "results") ||
		a.Ledger != filepath.Join(dir, "results", "invoices.csv") {
		t.Errorf("inbox 0: types %v results_dir %s ledger %s", a.Types, a.ResultsDir, a.Ledger)
	}
	if !slices.Equal(a.Include, []string{"*.pdf", "*.jpg", "*.heic", "*.heif", "*.avif", "*.tif", "*.tiff", "*.gif", "*.bmp"}) {
		t.Errorf("include follows types plus the refused formats: %v", a.Include)
	}
	if sep, dec := a.LedgerFormat(); sep != ';' || dec != ',' {
		t.Errorf("format %q %q", sep, dec)
	}
	if !slices.Equal(b.Include, []string{"*.jpg"}) || b.Ledger != filepath.Join(dir, "receipts", "book.xlsx") ||
		!slices.Contains(b.Exclude, "book.xlsx") {
		t.Errorf("inbox 1: include %v ledger %s exclude %v", b.Include, b.Ledger, b.Exclude)
	}
	if slices.Contains(a.Exclude, "invoices.csv") {
		t.Errorf("a ledger outside the inbox need not be excluded: %v", a.Exclude)
	}
}

func TestMediaErrors(t *testing.T) {
	dir := setup(t)
	inbox := func(extra string) string {
		return "\n[[inbox]]\npath = \"scans\"\nparser_id = \"prs_invoice\"\n" + extra + "\n"
	}
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"heic type", inbox(`types = ["*.pdf", "*.heic"]`), []string{"ppsync.toml:5", "inbox[0].types", `"*.heic" is not a type PerfectParser reads`, "convert"}},
		{"regex type", inbox(`types = [".*\\.pdf"]`), []string{"ppsync.toml:5", "inbox[0].types"}},
		{"results in inbox", inbox(`results_dir = "scans"`), []string{"ppsync.toml:5", "inbox[0].results_dir", "is the inbox itself"}},
		{"results in recursive inbox", inbox("recursive = true\nresults_dir = \"scans/out\""), []string{"ppsync.toml:6", "inbox[0].results_dir", "outside the inbox"}},
		{"ledger ext", inbox(`ledger = "book.ods"`), []string{"ppsync.toml:5", "inbox[0].ledger", ".csv or .xlsx"}},
		{"separator", inbox("ledger = \"l.csv\"\nledger_separator = \";;\""), []string{"ppsync.toml:6", "inbox[0].ledger_separator", "one character"}},
		{"decimal", inbox("ledger = \"l.csv\"\nledger_decimal = \"·\""), []string{"ppsync.toml:6", "inbox[0].ledger_decimal"}},
		{"same marks", inbox("ledger = \"l.csv\"\nledger_decimal = \",\""), []string{"ppsync.toml:6", "inbox[0].ledger_decimal", `ledger_separator = ";"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, dir, tc.text)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	c, err := parse(t, dir, inbox(`ledger_separator = ";"`))
	if err != nil || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "only used with a ledger") {
		t.Errorf("separator without a ledger: %v %v", c.Warnings, err)
	}
}
