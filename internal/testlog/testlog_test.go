package testlog_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/ppsync/ppsync/internal/testlog"
)

// Writes from many goroutines all land, whole, while they also read (run
// with -race: the buffer must need no other lock).
func TestBufferConcurrentWritesAndReads(t *testing.T) {
	var b testlog.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				fmt.Fprintf(&b, "line %d.%d\n", i, j)
				_ = b.Count("line") // a read while the others write
			}
		})
	}
	wg.Wait()
	if n := b.Count("line "); n != 8*50 {
		t.Errorf("Count = %d, want %d", n, 8*50)
	}
	if n := b.Count("line 7.49\n"); n != 1 {
		t.Errorf("the last line of the last writer stands %d times, want 1:\n%s", n, b.String())
	}
}
