package state_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// Names that are not valid UTF-8 come back byte for byte; others are
// stored as they were.
func TestNamesKeepTheirBytes(t *testing.T) {
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, name := range []string{"/in/plain.pdf", "/in/Rechnung-\xe4\xf6\xfc.pdf", "/in/\xff\xfe.pdf", "/in/\u00e4.pdf"} {
		f := state.File{Path: name, Inbox: "/in", Result: name + ".json", State: state.FileQueued}
		d := state.Doc{Key: "p:" + name, Files: []string{name}, UploadName: filepath.Base(name)}
		b := state.Batch{Key: "b:" + name, Paths: []string{name}, Names: []string{filepath.Base(name)}}
		if err := st.Update(func(tx *state.Tx) error {
			if err := tx.SeedFile(f); err != nil {
				return err
			}
			if err := tx.SeedDoc(d); err != nil {
				return err
			}
			return tx.PutBatch(b)
		}); err != nil {
			t.Fatal(err)
		}
		var gf state.File
		var gd state.Doc
		var gb state.Batch
		var seen bool
		var files []string
		if err := st.View(func(tx *state.Tx) error {
			gf, _, _ = tx.File(name)
			gd, _, _ = tx.Doc(d.Key)
			_ = tx.DocFiles(d.Key, func(p string) error { files = append(files, p); return nil })
			gb, _, _ = tx.Batch(b.Key)
			return tx.Files(func(x state.File) error {
				seen = seen || x.Path == name
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		if gf.Path != name || gf.Result != name+".json" || !seen {
			t.Errorf("%q: file came back as %q (result %q), listed %v", name, gf.Path, gf.Result, seen)
		}
		if len(files) != 1 || files[0] != name || gd.First != name || gd.UploadName != filepath.Base(name) {
			t.Errorf("%q: doc came back as %q %q / %q", name, files, gd.First, gd.UploadName)
		}
		if len(gb.Paths) != 1 || gb.Paths[0] != name || gb.Names[0] != filepath.Base(name) {
			t.Errorf("%q: batch came back as %q / %q", name, gb.Paths, gb.Names)
		}
	}
}
