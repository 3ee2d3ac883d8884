package watcher_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// saveIncrementally writes b as a complete PDF, closes it, then steps-1
// times re-opens it after pause and appends an incremental update ending
// in a new %%EOF, as a viewer that signs or annotates and saves does. It
// returns the final content.
func saveIncrementally(t *testing.T, p string, b []byte, steps int, pause time.Duration) []byte {
	t.Helper()
	write(t, p, b)
	all := append([]byte{}, b...)
	for i := 1; i < steps; i++ {
		time.Sleep(pause)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		upd := fmt.Appendf(nil, "\n%% incremental update %d\n%%%%EOF\n", i)
		if _, err := f.Write(upd); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		all = append(all, upd...)
	}
	return all
}

// A PDF saved incrementally (closed complete, re-opened within the grace
// period and extended with a new %%EOF) is one life on the close-write
// lane: reported once, with its final content.
func TestIncrementalSaveIsOneLifeOnTheFastLane(t *testing.T) {
	needCloseEvents(t)
	for _, steps := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d steps", steps), func(t *testing.T) {
			in, r := startWatching(t, nil)
			p := filepath.Join(in.Path, "signed.pdf")
			final := saveIncrementally(t, p, pdf(t), steps, 300*time.Millisecond)
			ev := r.expectSoon(p, time.Now())
			if ev.Size != int64(len(final)) {
				t.Errorf("reported with %d bytes, want the final %d", ev.Size, len(final))
			}
			r.quiet(1500 * time.Millisecond)
		})
	}
}

// Close-write says one writer closed the file; if another still holds it
// open for writing, it is not complete.
func TestFileStillOpenForWritingIsNotReady(t *testing.T) {
	needCloseEvents(t)
	in, r := startWatching(t, nil)
	p := filepath.Join(in.Path, "two-writers.pdf")
	holder, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	write(t, p, pdf(t)) // a second writer writes it whole and closes
	r.quiet(2 * time.Second)
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	r.expectSoon(p, time.Now())
}
