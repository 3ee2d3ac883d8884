package safeopen

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenBelow(t *testing.T) {
	tests := []struct {
		name string
		// setup makes the files under dir (and a secret beside it) and
		// returns the path to open.
		setup func(t *testing.T, dir, secret string) string
		want  error // nil: opened, and its content is "invoice"
	}{
		{"a file in the folder", func(t *testing.T, dir, _ string) string {
			return write(t, filepath.Join(dir, "a.pdf"))
		}, nil},
		{"a file in a subfolder", func(t *testing.T, dir, _ string) string {
			return write(t, filepath.Join(dir, "2026", "03", "a.pdf"))
		}, nil},
		{"a link to a secret", func(t *testing.T, dir, secret string) string {
			return link(t, secret, filepath.Join(dir, "a.pdf"))
		}, ErrLink},
		{"a link to a file in the same folder", func(t *testing.T, dir, _ string) string {
			write(t, filepath.Join(dir, "real.pdf"))
			return link(t, filepath.Join(dir, "real.pdf"), filepath.Join(dir, "a.pdf"))
		}, ErrLink},
		{"a linked folder on the way", func(t *testing.T, dir, secret string) string {
			link(t, filepath.Dir(secret), filepath.Join(dir, "sub"))
			return filepath.Join(dir, "sub", filepath.Base(secret))
		}, ErrLink},
		{"a folder, not a file", func(t *testing.T, dir, _ string) string {
			p := filepath.Join(dir, "folder.pdf")
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}, ErrLink},
		{"outside the folder", func(t *testing.T, dir, secret string) string {
			return filepath.Join(dir, "..", filepath.Base(filepath.Dir(secret)), filepath.Base(secret))
		}, ErrOutside},
		{"the folder itself", func(t *testing.T, dir, _ string) string { return dir }, ErrLink},
		{"missing", func(t *testing.T, dir, _ string) string { return filepath.Join(dir, "gone.pdf") }, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "inbox")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			secret := filepath.Join(base, "private", "secret.pdf")
			if err := os.MkdirAll(filepath.Dir(secret), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			p := tt.setup(t, dir, secret)
			f, err := OpenBelow(dir, p)
			if tt.want != nil {
				if f != nil {
					f.Close()
				}
				if !errors.Is(err, tt.want) {
					t.Fatalf("OpenBelow(%s) = %v, want an error matching %v", p, err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("OpenBelow(%s): %v", p, err)
			}
			defer f.Close()
			b, err := io.ReadAll(f)
			if err != nil || string(b) != "invoice" {
				t.Fatalf("read %q, %v; want the file's content", b, err)
			}
		})
	}
}

// TestOpenBelowLinkedRoot: the folder itself may be a link (an
// administrator's choice); what is below it may not.
func TestOpenBelowLinkedRoot(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	write(t, filepath.Join(real, "a.pdf"))
	root := link(t, real, filepath.Join(base, "inbox"))
	f, err := OpenBelow(root, filepath.Join(root, "a.pdf"))
	if err != nil {
		t.Fatalf("a file below a linked folder: %v", err)
	}
	f.Close()
}

func write(t *testing.T, p string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("invoice"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func link(t *testing.T, target, p string) string {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	return p
}
