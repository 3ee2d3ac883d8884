package ledger_test

import (
	"context"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/ppsync/ppsync/internal/ledger"
)

// TestLibreOfficeOpensCSV converts ledgers with LibreOffice headless, the
// way a user's spreadsheet opens them, and checks rows, columns and that
// amounts arrive as numbers, for the default and the European format.
func TestLibreOfficeOpensCSV(t *testing.T) {
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("soffice is required in CI (apt-get install libreoffice-calc-nogui)")
		}
		t.Skip("SKIPPED: soffice not installed (apt-get install libreoffice-calc-nogui); CI installs it")
	}
	inbox := t.TempDir()
	writeResults(t, inbox, 7)
	for _, tc := range []struct {
		name   string
		format ledger.Format
		filter string // CSV import options: separator, quote, UTF-8, first line, column types, locale
	}{
		{"default", ledger.Format{}, "44,34,76,1,,1033"},
		{"european", ledger.Format{Separator: ';', Decimal: ','}, "59,34,76,1,,1031"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "ledger.csv")
			n, err := ledger.Rebuild(context.Background(), ledger.Options{Path: path, InboxRoot: inbox, Schema: schema, Format: tc.format}, inbox)
			if err != nil || n != 7 {
				t.Fatalf("Rebuild = %d, %v", n, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			profile := (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(dir, "profile"))}).String()
			cmd := exec.CommandContext(ctx, soffice, "-env:UserInstallation="+profile, "--headless",
				"--infilter=CSV:"+tc.filter, "--convert-to", "xlsx", "--outdir", dir, path)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("soffice: %v\n%s", err, out)
			}
			x, err := excelize.OpenFile(filepath.Join(dir, "ledger.xlsx"))
			if err != nil {
				t.Fatalf("LibreOffice produced no workbook: %v", err)
			}
			defer x.Close()
			rows, err := x.GetRows(x.GetSheetList()[0])
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 8 {
				t.Fatalf("LibreOffice sees %d rows, want a header and 7", len(rows))
			}
			if !slices.Equal(rows[0], wantHeader) {
				t.Fatalf("LibreOffice header = %q (BOM or separator misread?)", rows[0])
			}
			col := slices.Index(wantHeader, "total_amount") + 1
			for i := range 7 {
				cell, _ := excelize.CoordinatesToCellName(col, i+2)
				typ, _ := x.GetCellType(x.GetSheetList()[0], cell)
				v, _ := x.GetCellValue(x.GetSheetList()[0], cell, excelize.Options{RawCellValue: true})
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || f < 1000 || f > 1007 || f-math.Floor(f) != 0.25 || typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString {
					t.Errorf("row %d total_amount = %q (type %v): LibreOffice did not read it as a number", i+2, v, typ)
				}
				if len(rows[i+1]) > len(wantHeader) {
					t.Errorf("row %d has %d columns, want %d", i+2, len(rows[i+1]), len(wantHeader))
				}
			}
			city := slices.Index(wantHeader, "vendor_address.city")
			if rows[1][city] != "Zürich" {
				t.Errorf("city = %q: UTF-8 misread", rows[1][city])
			}
		})
	}
}
