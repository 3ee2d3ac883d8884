package outpath_test

import (
	"slices"
	"testing"

	"github.com/ppsync/ppsync/internal/outpath"
)

func TestFolders(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		results, processed, failed string
		move                       bool
		want                       []string
	}{
		{"beside the files", "", "", "", false, []string{"/in"}},
		{"results folder", "/out", "", "", false, []string{"/out"}},
		{"move", "", "/in/done", "/in/failed", true, []string{"/in", "/in/done", "/in/failed"}},
		{"move with a results folder", "/out", "/in/done", "/in/failed", true, []string{"/in", "/out", "/in/done", "/in/failed"}},
		{"move into one folder", "", "/in/done", "/in/done", true, []string{"/in", "/in/done"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := outpath.Folders("/in", tc.results, tc.processed, tc.failed, tc.move); !slices.Equal(got, tc.want) {
				t.Errorf("Folders = %q, want %q", got, tc.want)
			}
		})
	}
}
