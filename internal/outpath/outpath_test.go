package outpath_test

import (
	"path/filepath"
	"testing"

	"github.com/ppsync/ppsync/internal/outpath"
)

func TestResultsPath(t *testing.T) {
	in := filepath.FromSlash("/srv/inbox")
	res := filepath.FromSlash("/srv/results")
	p := filepath.FromSlash
	for _, tc := range []struct {
		resultsDir, file, want string
	}{
		{"", p("/srv/inbox/a.pdf"), p("/srv/inbox/a.pdf")},
		{"", p("/srv/inbox/sub/a.pdf"), p("/srv/inbox/sub/a.pdf")},
		{res, p("/srv/inbox/a.pdf"), p("/srv/results/a.pdf")},
		{res, p("/srv/inbox/2026/03/receipt.jpg"), p("/srv/results/2026/03/receipt.jpg")},
		{res, p("/srv/elsewhere/x.pdf"), p("/srv/results/x.pdf")},
		{res, p("/srv/inbox/../inbox2/x.pdf"), p("/srv/results/x.pdf")},
		{res, p("/srv/inbox/..hidden.pdf"), p("/srv/results/..hidden.pdf")},
		{res, in, p("/srv/results/inbox")},
	} {
		got := outpath.ResultsPath(in, tc.resultsDir, tc.file)
		if got != tc.want {
			t.Errorf("ResultsPath(%q, %q) = %q, want %q", tc.resultsDir, tc.file, got, tc.want)
		}
		if tc.file == in || tc.resultsDir == "" {
			continue
		}
		src, ok := outpath.SourcePath(in, tc.resultsDir, got)
		if !ok || filepath.Dir(got) == res && filepath.Base(src) != filepath.Base(tc.file) {
			t.Errorf("SourcePath(%q) = %q %v", got, src, ok)
		}
	}
	if _, ok := outpath.SourcePath(in, res, p("/srv/other/a.pdf.json")); ok {
		t.Error("a path outside the results folder has no source")
	}
	if src, ok := outpath.SourcePath(in, res, p("/srv/results/sub/a.pdf")); !ok || src != p("/srv/inbox/sub/a.pdf") {
		t.Errorf("SourcePath = %q %v", src, ok)
	}
}
