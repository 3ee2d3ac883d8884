package ledger

import (
	"bufio"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/xuri/excelize/v2"
)

// bom makes Excel read a CSV as UTF-8 instead of the local code page.
const bom = "\ufeff"

// writeCSV writes the table as CSV: UTF-8 with BOM, CRLF line ends, the
// chosen separator and decimal mark. Text that a spreadsheet would run as a
// formula (starting with = + - @) gets a leading apostrophe: the extracted
// data comes from documents anyone can send.
func writeCSV(w io.Writer, t table, f Format) error {
	if _, err := io.WriteString(w, bom); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Comma = f.Separator
	cw.UseCRLF = true
	if err := cw.Write(t.header); err != nil {
		return err
	}
	rec := make([]string, len(t.header))
	for _, r := range t.rows {
		for i, v := range r {
			rec[i] = csvCell(v, f.Decimal)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvCell(v any, decimal rune) string {
	switch x := v.(type) {
	case json.Number:
		return number(x, decimal)
	case string:
		return defuse(x)
	}
	return text(v, decimal)
}

// defuse keeps spreadsheet programs from reading text as a formula.
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// sheetName makes a valid, unique Excel sheet name (max 31 characters,
// none of []:*?/\).
func sheetName(name string, used map[string]bool) string {
	name = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`[]:*?/\`, r) {
			return '_'
		}
		return r
	}, name)
	if name == "" {
		name = "items"
	}
	base := []rune(name)
	if len(base) > 31 {
		base = base[:31]
	}
	cand := string(base)
	for i := 2; used[strings.ToLower(cand)]; i++ {
		suffix := fmt.Sprintf(" (%d)", i)
		cand = string(base[:min(len(base), 31-len(suffix))]) + suffix
	}
	used[strings.ToLower(cand)] = true
	return cand
}

// writeXLSX writes the table as a workbook: sheet "Documents" with one row
// per document, and one sheet per array of objects (line items) with one
// row per item. Numbers are stored as numbers, text as text (never as
// formulas).
func writeXLSX(w io.Writer, t table) error {
	x := excelize.NewFile()
	defer x.Close()
	used := map[string]bool{}
	main := sheetName("Documents", used)
	if err := x.SetSheetName("Sheet1", main); err != nil {
		return err
	}
	if err := fillSheet(x, main, t.header, t.rows); err != nil {
		return err
	}
	for _, l := range t.lists {
		name := sheetName(l.name, used)
		if _, err := x.NewSheet(name); err != nil {
			return err
		}
		if err := fillSheet(x, name, l.header, l.rows); err != nil {
			return err
		}
	}
	x.SetActiveSheet(0)
	return x.Write(w)
}

func fillSheet(x *excelize.File, sheet string, header []string, rows [][]any) error {
	sw, err := x.NewStreamWriter(sheet)
	if err != nil {
		return err
	}
	row := make([]any, len(header))
	for i, h := range header {
		row[i] = h
	}
	if err := sw.SetRow("A1", row); err != nil {
		return err
	}
	for n, r := range rows {
		out := make([]any, len(r))
		for i, v := range r {
			switch x := v.(type) {
			case json.Number:
				if f, err := x.Float64(); err == nil {
					out[i] = f
				} else {
					out[i] = x.String()
				}
			case nil:
				out[i] = nil
			default:
				out[i] = v
			}
		}
		cell, err := excelize.CoordinatesToCellName(1, n+2)
		if err != nil {
			return err
		}
		if err := sw.SetRow(cell, out); err != nil {
			return err
		}
	}
	return sw.Flush()
}

// Temp files share the results writer's naming (".ppsync-<hex>.tmp"), so the
// watcher ignores them and start-up clean-up removes any a crash left.
const (
	tempPrefix = ".ppsync-"
	tempSuffix = ".tmp"
)

// writeAtomic writes path through a temp file in the same folder: write,
// fsync, close, rename over the old file, fsync the folder. A crash at any
// point leaves either the old file or the new one, never a mix.
// beforeRename, when set, runs between the fsync and the rename (tests use
// it to fail or kill the process there).
func writeAtomic(path string, fill func(io.Writer) error, beforeRename func() error) error {
	dir := filepath.Dir(path)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, tempPrefix+hex.EncodeToString(rnd[:])+tempSuffix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write ledger %s: %w (is the folder writable for the ppsync user?)", path, err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	ferr := fill(bw)
	if ferr == nil {
		ferr = bw.Flush()
	}
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(ferr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write ledger %s: %w (disk full?)", path, err)
	}
	if beforeRename != nil {
		if err := beforeRename(); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("write ledger %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		hint := ""
		if runtime.GOOS == "windows" {
			hint = " (is it open in Excel? ppsync writes it again once it is closed)"
		}
		return fmt.Errorf("replace ledger %s: %w%s", path, err, hint)
	}
	if runtime.GOOS != "windows" {
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	return nil
}
