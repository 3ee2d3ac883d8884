package winpath

import (
	"os"
	"path/filepath"
	"testing"
)

// On Windows (run under Wine by test/windows): a folder and a file whose
// names end in a dot or a space are created, listed, opened, renamed and
// removed through Sys and a walk from an Extended root, where the
// ordinary paths fail or reach another name.
func TestTrailingDotAndSpace(t *testing.T) {
	// Not t.TempDir: os.RemoveAll fails on these names under Wine.
	root, err := os.MkdirTemp("", "winpath-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeTree(Extended(root)); err != nil {
			t.Errorf("remove %s: %v", root, err)
		}
	})
	for _, name := range []string{"ACME Inc.", "Trailing space "} {
		dir := filepath.Join(root, name)
		if err := os.Mkdir(Sys(dir), 0o755); err != nil {
			t.Fatalf("mkdir %q: %v", dir, err)
		}
		file := filepath.Join(dir, "a.pdf")
		if err := os.WriteFile(Sys(file), []byte("%PDF-1.4"), 0o644); err != nil {
			t.Fatalf("write %q: %v", file, err)
		}
		_, err := os.Stat(file)
		if name == "ACME Inc." && err == nil {
			t.Errorf("%q opens by its ordinary path: the test shows nothing", file)
		}
		t.Logf("stat by the ordinary path %q: %v", file, err)
		if b, err := os.ReadFile(Sys(file)); err != nil || string(b) != "%PDF-1.4" {
			t.Errorf("read %q: %q %v", file, b, err)
		}
		if err := os.Rename(Sys(file), Sys(file+".json.")); err != nil {
			t.Errorf("rename in %q: %v", dir, err)
		}
		if _, err := os.Lstat(Sys(file + ".json.")); err != nil {
			t.Errorf("the renamed %q: %v", file+".json.", err)
		}
	}
	var found []string
	err = filepath.WalkDir(Extended(root), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			found = append(found, Plain(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(root, "ACME Inc.", "a.pdf.json."), filepath.Join(root, "Trailing space ", "a.pdf.json.")}
	if len(found) != 2 || found[0] != want[0] || found[1] != want[1] {
		t.Errorf("walk from %s found %q, want %q", Extended(root), found, want)
	}
	if Plain(Extended(root)) != filepath.Clean(root) {
		t.Errorf("Plain(Extended(%q)) = %q", root, Plain(Extended(root)))
	}
}

// removeTree removes dir and everything below it, one entry at a time.
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			err = removeTree(p)
		} else {
			err = os.Remove(p)
		}
		if err != nil {
			return err
		}
	}
	return os.Remove(dir)
}
