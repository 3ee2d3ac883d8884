package smbtest_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/ppsync/ppsync/internal/smbtest"
)

// Options.CaseSensitive makes the server look names up as given: a name
// in another case than the file's is not found there, while the default
// share (case-insensitive, as Samba's and Windows') finds it.
func TestCaseSensitiveShareLooksNamesUpAsGiven(t *testing.T) {
	for _, sensitive := range []bool{false, true} {
		t.Run(fmt.Sprint("case sensitive=", sensitive), func(t *testing.T) {
			s := smbtest.StartWith(t, smbtest.Options{CaseSensitive: sensitive})
			s.WriteDirect("Scan0001.pdf", []byte("%PDF-1.4 x %%EOF"))
			if _, err := os.Stat(filepath.Join(s.Mount, "Scan0001.pdf")); err != nil {
				t.Fatalf("the file by its own name: %v", err)
			}
			_, err := os.Stat(filepath.Join(s.Mount, "SCAN0001.PDF"))
			switch {
			case sensitive && !errors.Is(err, fs.ErrNotExist):
				t.Errorf("on a case-sensitive share SCAN0001.PDF is %v, want not found (the file is Scan0001.pdf)", err)
			case !sensitive && err != nil:
				t.Errorf("on a case-insensitive share SCAN0001.PDF is %v, want Scan0001.pdf found", err)
			}
			// A client's new name keeps its case on the server.
			if err := os.WriteFile(filepath.Join(s.Mount, "Result.JSON"), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(s.Folder, "Result.JSON")); err != nil {
				t.Errorf("the client's Result.JSON is not on the server by that name: %v", err)
			}
		})
	}
}
