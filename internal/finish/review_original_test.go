package finish_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ppsync/ppsync/internal/finish"
)

// TestReviewOriginalNeverThroughALink: the held result's original is
// opened from its inbox; once it is replaced by a link to a secret it is
// refused, as not held.
func TestReviewOriginalNeverThroughALink(t *testing.T) {
	e := newReviewEnv(t, false)
	p := e.finished("a.pdf", "sha1", 0.5, goodData)
	id := e.heldID(p)
	f, err := e.fin.OpenOriginal(id)
	if err != nil {
		t.Fatalf("OpenOriginal: %v", err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "%PDF-1.4 sha1 %%EOF" {
		t.Fatalf("read %q, want the original", b)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("the API key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, p); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	f, err = e.fin.OpenOriginal(id)
	if err == nil {
		b, _ := io.ReadAll(f)
		f.Close()
		t.Fatalf("opened through a link: %q", b)
	}
	if !errors.Is(err, finish.ErrNotHeld) {
		t.Fatalf("OpenOriginal through a link: %v, want ErrNotHeld", err)
	}
}
