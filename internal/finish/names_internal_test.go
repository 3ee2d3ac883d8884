package finish

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ppsync/ppsync/internal/results"
)

func TestFitName(t *testing.T) {
	dir := "/in"
	for _, tc := range []struct {
		name string
		base string
	}{
		{"short stays", "a.pdf.error.json"},
		{"ascii too long", strings.Repeat("x", 248) + ".pdf.error.json"},
		{"multibyte cut on a boundary", strings.Repeat("ä", 130) + ".pdf.error.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fitName(filepath.Join(dir, tc.base), results.ErrorSuffix)
			base := filepath.Base(got)
			if len(tc.base) <= nameMax && base != tc.base {
				t.Errorf("a name that fits was changed to %q", base)
			}
			if len(base) > nameMax || !strings.HasSuffix(base, results.ErrorSuffix) || !utf8.ValidString(base) {
				t.Errorf("fitName = %q (%d bytes)", base, len(base))
			}
			if len(tc.base) > nameMax {
				// Differing only past the cut: the hash tells them apart.
				twin := strings.Replace(tc.base, ".pdf", "-2.pdf", 1)
				if fitName(filepath.Join(dir, twin), results.ErrorSuffix) == got {
					t.Error("two long names share an output")
				}
			}
		})
	}
}
