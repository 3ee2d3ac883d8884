package fileid_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ppsync/ppsync/internal/fileid"
)

// Where identities cannot be trusted, the fingerprint tells new content of
// the same size apart, at either end or (for small files) anywhere.
func TestSameTellsNewContentOfTheSameSize(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		size int
		at   int // the byte that changes
	}{
		{"small file", 1000, 500},
		{"start of a large file", 1 << 20, 10},
		{"end of a large file", 1 << 20, 1<<20 - 10},
		{"between the ends", 100 << 10, 70 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".pdf")
			old := bytes.Repeat([]byte("x"), tc.size)
			if err := os.WriteFile(p, old, 0o644); err != nil {
				t.Fatal(err)
			}
			fp, err := fileid.Fingerprint(p)
			if err != nil || len(fp) != 32 {
				t.Fatalf("Fingerprint = %q, %v", fp, err)
			}
			if !fileid.Same(p, "", "", fp) || !fileid.Same(p, "a", "a", fp) {
				t.Fatal("an unchanged file is not the same")
			}
			changed := bytes.Clone(old)
			changed[tc.at] = 'y'
			if err := os.WriteFile(p, changed, 0o644); err != nil {
				t.Fatal(err)
			}
			if fileid.Same(p, "", "", fp) {
				t.Error("new content with the same size kept its fingerprint")
			}
			if fileid.Same(p, "a", "b", "") {
				t.Error("another identity is the same file")
			}
			if !fileid.Same(p, "", "", "") {
				t.Error("a record with neither identity nor fingerprint (an older state) must stand on size and mtime")
			}
		})
	}
}
