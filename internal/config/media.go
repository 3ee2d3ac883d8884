package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// apiExtensions are the file extensions of the formats PerfectParser reads
// (filecheck recognises the same formats by content; a test keeps the lists
// in step).
var apiExtensions = []string{"pdf", "png", "jpg", "jpeg", "webp"}

// DefaultTypes are the accepted file-name patterns of an inbox without a
// types setting.
func DefaultTypes() []string { return []string{"*.pdf", "*.png", "*.jpg", "*.jpeg", "*.webp"} }

// RefusedPatterns name formats the API does not read that people often
// drop anyway (iPhone photos, scanner TIFFs, ...). An inbox without an
// include list watches them too, so each gets an error file saying what to
// convert to instead of being ignored in silence.
func RefusedPatterns() []string {
	return []string{"*.heic", "*.heif", "*.avif", "*.tif", "*.tiff", "*.gif", "*.bmp"}
}

// LedgerFormat returns the ledger's CSV separator and decimal mark (after
// validation both are single characters).
func (in Inbox) LedgerFormat() (separator, decimal rune) {
	separator, _ = utf8.DecodeRuneInString(in.LedgerSeparator)
	decimal, _ = utf8.DecodeRuneInString(in.LedgerDecimal)
	return separator, decimal
}

// media checks types, results_dir and the ledger settings of inbox i and
// fills in their defaults (and include's, which follows types).
func (v *validator) media(i int) {
	in := &v.c.Inboxes[i]
	k := func(s string) string { return fmt.Sprintf("inbox[%d].%s", i, s) }
	if len(in.Types) == 0 {
		in.Types = DefaultTypes()
	}
	for j, p := range in.Types {
		q := strings.ToLower(strings.TrimSpace(p))
		ext, ok := strings.CutPrefix(q, "*.")
		if !ok || !slices.Contains(apiExtensions, ext) {
			v.fail(k("types"), "%q is not a type PerfectParser reads: use patterns among %s (other formats, such as HEIC photos or TIFF scans, get an error file saying what to convert them to)",
				p, strings.Join(DefaultTypes(), ", "))
			continue
		}
		in.Types[j] = q
	}
	if len(in.Include) == 0 {
		in.Include = append(slices.Clone(in.Types), RefusedPatterns()...)
	}

	if in.ResultsDir != "" {
		in.ResultsDir = v.abs(in.ResultsDir)
		switch {
		case in.Path != "" && in.ResultsDir == in.Path:
			v.fail(k("results_dir"), "is the inbox itself: leave results_dir out to write results beside the files")
		case in.Path != "" && in.Recursive && within(in.ResultsDir, in.Path):
			v.fail(k("results_dir"), "%s is inside recursive inbox %s: put it outside the inbox, e.g. %s", in.ResultsDir, in.Path, in.Path+"-results")
		}
		if st, err := os.Stat(in.ResultsDir); err == nil && !st.IsDir() {
			v.fail(k("results_dir"), "%s is a file, not a folder", in.ResultsDir)
		}
	}

	if in.Ledger != "" {
		switch strings.ToLower(filepath.Ext(in.Ledger)) {
		case ".csv", ".xlsx":
		default:
			v.fail(k("ledger"), "%q: the ledger's name must end in .csv or .xlsx", in.Ledger)
		}
		base := in.ResultsDir
		if base == "" {
			base = in.Path
		}
		if p := in.Ledger; !filepath.IsAbs(p) && !isUNC(p) && !strings.HasPrefix(p, "~") {
			in.Ledger = filepath.Clean(filepath.Join(base, p))
		} else {
			in.Ledger = v.abs(p)
		}
	} else if in.LedgerSeparator != "" || in.LedgerDecimal != "" {
		v.warn(k("ledger"), "ledger_separator and ledger_decimal are only used with a ledger")
	}
	if in.LedgerSeparator == "" {
		in.LedgerSeparator = ","
	}
	if in.LedgerDecimal == "" {
		in.LedgerDecimal = "."
	}
	sep, dec := in.LedgerFormat()
	if utf8.RuneCountInString(in.LedgerSeparator) != 1 || strings.ContainsRune("\"\r\n", sep) {
		v.fail(k("ledger_separator"), "%q: use one character, such as \",\", \";\" (Excel in most European languages) or \"\\t\"", in.LedgerSeparator)
	}
	if in.LedgerDecimal != "." && in.LedgerDecimal != "," {
		v.fail(k("ledger_decimal"), "%q: use \".\" or \",\"", in.LedgerDecimal)
	} else if sep == dec {
		v.fail(k("ledger_decimal"), "%q is also the separator: with a \",\" decimal mark set ledger_separator = \";\"", in.LedgerDecimal)
	}
}
