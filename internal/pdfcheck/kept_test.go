package pdfcheck

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// countingReaderAt counts the reads that reach the file.
type countingReaderAt struct {
	r     io.ReaderAt
	reads int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	return c.r.ReadAt(p, off)
}

// A large file's checks read its head and its last MiB from memory, and
// everything else from the file, with the file's bytes either way.
func TestKeptServesHeadAndTailFromMemory(t *testing.T) {
	for _, size := range []int{hashBuf + 1, hashBuf + 100_000, 2*hashBuf + 5, 3 * hashBuf} {
		data := make([]byte, size)
		r := rand.New(rand.NewPCG(uint64(size), 1))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		p := filepath.Join(t.TempDir(), "big.pdf")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		k, err := hashKeeping(h, f, p, int64(size), make([]byte, BufferSize))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), sum[:]) {
			t.Fatalf("%d bytes: hash differs from the file's", size)
		}
		if len(k.head) != headKeep || k.tailOff+int64(len(k.tail)) != int64(size) || len(k.tail) != hashBuf {
			t.Fatalf("%d bytes: kept head %d, tail [%d, %d); want %d and the last %d bytes", size, len(k.head), k.tailOff, k.tailOff+int64(len(k.tail)), headKeep, hashBuf)
		}
		c := &countingReaderAt{r: f}
		k.f = c
		inMemory := [][2]int{{0, 1024}, {headKeep - 10, 10}, {size - 1024, 1024}, {size - hashBuf, 4096}}
		for _, rd := range inMemory {
			got := make([]byte, rd[1])
			if n, err := k.ReadAt(got, int64(rd[0])); err != nil || n != rd[1] || !bytes.Equal(got, data[rd[0]:rd[0]+rd[1]]) {
				t.Fatalf("%d bytes: ReadAt(%d, %d) = %d, %v, or other bytes", size, rd[0], rd[1], n, err)
			}
		}
		if c.reads != 0 {
			t.Errorf("%d bytes: %d reads of the file for bytes kept in memory", size, c.reads)
		}
		// Anything else reads the file, and across the edges too.
		for range 200 {
			off, n := r.IntN(size+10), 1+r.IntN(8192)
			got := make([]byte, n)
			m, err := k.ReadAt(got, int64(off))
			want := data[min(off, size):min(off+n, size)]
			if m != len(want) || !bytes.Equal(got[:m], want) || (m < n) != (err != nil) {
				t.Fatalf("%d bytes: ReadAt(%d, %d) = %d, %v; want %d bytes", size, off, n, m, err, len(want))
			}
		}
		if size-hashBuf > headKeep && c.reads == 0 {
			t.Errorf("%d bytes: no read reached the file, though its middle is not kept", size)
		}
		// Read and Seek go through the same reads.
		if _, err := k.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		all, err := io.ReadAll(k)
		if err != nil || !bytes.Equal(all, data) {
			t.Fatalf("%d bytes: reading it whole: %d bytes, %v", size, len(all), err)
		}
		f.Close()
	}
}

// A large file that grew or shrank since its size was read is not judged
// on bytes it no longer has.
func TestHashKeepingSeesASizeChange(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), (hashBuf+50_000)/16)
	p := filepath.Join(t.TempDir(), "big.pdf")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, declared := range []int64{int64(len(data)) - 1, int64(len(data)) + 1, int64(len(data)) - hashBuf/2} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = hashKeeping(sha256.New(), f, p, declared, make([]byte, BufferSize))
		f.Close()
		if err == nil || !strings.Contains(err.Error(), "changed size while being read") {
			t.Errorf("file of %d bytes read as %d: %v, want a size change", len(data), declared, err)
		}
	}
}
