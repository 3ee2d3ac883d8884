package results_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ppsync/ppsync/internal/results"
)

// WriteAtomic is atomic: a reader polling the path while it is rewritten
// again and again sees either no file yet or one complete version, never
// an empty, partial or mixed one.
func TestWriteAtomicNeverShowsAPartialFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.pdf.json")
	// Versions large enough that a plain write is seen half done.
	version := func(i int) []byte {
		line := fmt.Sprintf("version %06d;", i)
		return append(bytes.Repeat([]byte(line), 256<<10/len(line)), '\n')
	}
	const writes = 60
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var bad []string
	var reads int
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			reads++
			var i int
			if _, err := fmt.Sscanf(string(b), "version %06d;", &i); err != nil || !bytes.Equal(b, version(i)) {
				bad = append(bad, fmt.Sprintf("%d bytes: %.40q", len(b), b))
			}
		}
	})
	for i := range writes {
		if err := results.WriteAtomic(p, version(i)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("the reader saw %d partial files in %d reads, first: %s", len(bad), reads, bad[0])
	}
	if reads == 0 {
		t.Error("the reader never read the file")
	}
}
