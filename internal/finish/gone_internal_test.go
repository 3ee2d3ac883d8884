package finish

import (
	"os"
	"path/filepath"
	"testing"
)

// A file a stat said is gone is recorded gone only when a fresh listing of
// its folder agrees, where the folder's lookups go through listings (a
// share, whose client may answer a stat "no such file" under load).
func TestGoneOnlyWhenTheListingAgrees(t *testing.T) {
	dir := t.TempDir()
	there := filepath.Join(dir, "scan.pdf")
	if err := os.WriteFile(there, []byte("%PDF-1.4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(dir, "deleted.pdf")
	for _, tc := range []struct {
		name   string
		listed bool
		path   string
		want   bool
	}{
		{"a share listing the file", true, there, false},
		{"a share not listing it", true, gone, true},
		{"a share whose folder cannot be listed", true, filepath.Join(dir, "missing-folder", "a.pdf"), false},
		{"a local folder: the stat is believed", false, there, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &folderNames{list: func(string) bool { return tc.listed }}
			if got := c.goneForSure(tc.path); got != tc.want {
				t.Errorf("goneForSure(%s) = %v, want %v", filepath.Base(tc.path), got, tc.want)
			}
		})
	}
}
