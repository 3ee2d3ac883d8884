// Package testlog holds a log destination for tests: a buffer that the code
// under test writes from its goroutines while the test reads it. Only tests
// import it.
package testlog

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent writes and reads. The zero
// value is ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count tells how many times s was written so far (non-overlapping).
func (b *Buffer) Count(s string) int {
	return strings.Count(b.String(), s)
}
