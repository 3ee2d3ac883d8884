package uploader

import (
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/ppsync/ppsync/internal/state"
)

// slice returns the entries of f in order.
func (f *fifo) slice() []queued {
	out := make([]queued, 0, f.n)
	for i := range f.n {
		out = append(out, *f.at(i))
	}
	return out
}

// ids returns the at fields of qs: the tests below number entries by it.
func ids(qs []queued) []int64 {
	out := []int64{}
	for _, q := range qs {
		out = append(out, q.at)
	}
	return out
}

func seq(from, to int64) []int64 {
	out := []int64{}
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func numbered(from, to int64) []queued {
	var out []queued
	for _, i := range seq(from, to) {
		out = append(out, queued{at: i})
	}
	return out
}

// blocksFor is how many blocks n entries from head need.
func blocksFor(head, n int) int { return (head + n + blockLen - 1) / blockLen }

func TestFifoKeepsOrderAcrossBlocks(t *testing.T) {
	const n = 3*blockLen + 7
	f := &fifo{}
	for _, e := range numbered(0, n) {
		f.pushBack(e)
	}
	if f.Len() != n || len(f.blocks) != 4 {
		t.Fatalf("%d entries in %d blocks, want %d in 4", f.Len(), len(f.blocks), n)
	}
	if !reflect.DeepEqual(ids(f.slice()), seq(0, n)) {
		t.Fatal("entries out of order")
	}
	var got []int64
	for f.Len() > 0 {
		got = append(got, f.popFront().at)
		if want := blocksFor(f.head, f.n); f.n > 0 && len(f.blocks) != want {
			t.Fatalf("after %d pops: %d blocks, want %d (a consumed block is kept)", len(got), len(f.blocks), want)
		}
	}
	if !reflect.DeepEqual(got, seq(0, n)) {
		t.Error("popped out of order")
	}
	if f.blocks != nil || f.head != 0 {
		t.Errorf("an empty queue keeps %d blocks (head %d)", len(f.blocks), f.head)
	}
}

func TestFifoPushFront(t *testing.T) {
	tests := []struct {
		name        string
		back, front int64 // entries pushed at the back first, then at the front
		pops        int   // pops between the two
	}{
		{"into an empty queue", 0, 5, 0},
		{"a few before a few", 3, 2, 0},
		{"more than a block before a long queue", 2*blockLen + 1, blockLen + 3, 0},
		{"into the room consumed entries left", blockLen + 10, 4, 6},
		{"more than the room consumed entries left", blockLen + 10, 9, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fifo{}
			for _, e := range numbered(0, tt.back) {
				f.pushBack(e)
			}
			for range tt.pops {
				f.popFront()
			}
			f.pushFront(numbered(-tt.front, 0))
			want := seq(-tt.front, tt.back)
			want = slices.Delete(want, int(tt.front), int(tt.front)+tt.pops)
			if got := ids(f.slice()); !reflect.DeepEqual(got, want) {
				t.Errorf("queue %v, want %v", got, want)
			}
			if f.Len() != len(want) || len(f.blocks) != blocksFor(f.head, f.n) {
				t.Errorf("%d entries in %d blocks from %d, want %d", f.Len(), len(f.blocks), f.head, len(want))
			}
			for _, e := range numbered(tt.back, tt.back+2) {
				f.pushBack(e)
			}
			if got := ids(f.slice()); !reflect.DeepEqual(got, append(want, tt.back, tt.back+1)) {
				t.Errorf("pushing at the back after the front: %v", got)
			}
		})
	}
}

func TestFifoRemove(t *testing.T) {
	const n = 2*blockLen + 5
	tests := []struct {
		name string
		drop func(int64) bool
	}{
		{"none", func(int64) bool { return false }},
		{"the first", func(i int64) bool { return i == 0 }},
		{"the last", func(i int64) bool { return i == n-1 }},
		{"one in the middle of a block", func(i int64) bool { return i == blockLen+17 }},
		{"the last block's entries", func(i int64) bool { return i >= 2*blockLen }},
		{"every third", func(i int64) bool { return i%3 == 0 }},
		{"all", func(int64) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fifo{}
			f.pushBack(queued{at: -1})
			for _, e := range numbered(0, n) {
				f.pushBack(e)
			}
			f.popFront() // the queue starts inside its first block
			var want, wantOut []int64
			for _, i := range seq(0, n) {
				if tt.drop(i) {
					wantOut = append(wantOut, i)
				} else {
					want = append(want, i)
				}
			}
			out := f.removeFunc(func(e *queued) bool { return tt.drop(e.at) })
			if got := ids(out); !reflect.DeepEqual(got, append([]int64{}, wantOut...)) {
				t.Errorf("removed %d entries, want %d", len(got), len(wantOut))
			}
			if got := ids(f.slice()); !reflect.DeepEqual(got, append([]int64{}, want...)) {
				t.Errorf("left %d entries, want %d in order", len(got), len(want))
			}
			if f.Len() != len(want) {
				t.Errorf("Len %d, want %d", f.Len(), len(want))
			}
			if len(want) == 0 && f.blocks != nil {
				t.Errorf("an emptied queue keeps %d blocks", len(f.blocks))
			}
			if len(want) > 0 && len(f.blocks) != blocksFor(f.head, f.n) {
				t.Errorf("%d blocks for %d entries from %d: emptied blocks kept", len(f.blocks), f.n, f.head)
			}
		})
	}
}

// Every key a document may have comes back from the queue unchanged, and
// the side table of unusual keys is emptied as their entries leave.
func TestQueueKeysRoundTrip(t *testing.T) {
	hex64 := fmt.Sprintf("%064x", 12345)
	tests := []struct {
		parser, key string
		odd         bool
	}{
		{"prs", "prs:" + hex64, false},
		{"prs_invoice", state.DocKey("prs_invoice", hex64), false},
		{"p", "p:/in/queued.pdf-sha", true},
		{"prs", "prs:s1", true},
		{"prs", "prs:" + hex64[:63], true},
		{"prs", "prs:" + hex64 + "0", true},
		{"prs", "prs:" + hex64[:60] + "ABCD", true},
		{"prs", "other:" + hex64, true},
		{"prs", "prs;" + hex64, true},
		{"prs", "", true},
		{"a:b", "a:b:" + hex64, false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			qs := newQueues()
			d := state.Doc{Key: tt.key, ParserID: tt.parser, Pages: 3, Size: 10, Files: []string{"/in/a.pdf"}}
			e1 := qs.entry(tt.parser, d, time.Now())
			e2 := qs.entry(tt.parser, d, time.Now())
			if got := qs.key(tt.parser, e1); got != tt.key {
				t.Fatalf("key %q came back as %q", tt.key, got)
			}
			if len(qs.odd) != map[bool]int{false: 0, true: 1}[tt.odd] {
				t.Errorf("%d keys in the side table, want odd=%v", len(qs.odd), tt.odd)
			}
			qs.release([]queued{e1})
			if got := qs.key(tt.parser, e2); got != tt.key {
				t.Errorf("after one of two entries left, the key came back as %q", got)
			}
			qs.release([]queued{e2})
			if len(qs.odd) != 0 {
				t.Errorf("%d keys left in the side table after every entry left", len(qs.odd))
			}
		})
	}
}

// newOddUploader records queued documents under the given keys (parser
// "prs", one file each) and recovers an uploader over them.
func newOddUploader(t *testing.T, fa *fakeAPI, docs ...[2]string) (*Uploader, *state.Store) {
	t.Helper()
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Update(func(tx *state.Tx) error {
		for i, kp := range docs {
			key, path := kp[0], kp[1]
			if err := tx.SeedDoc(state.Doc{Key: key, ParserID: "prs", SHA256: fmt.Sprint("sha", i), Size: 10, Pages: 1,
				State: state.DocQueued, Files: []string{path}, Updated: time.Unix(int64(i+1), 0)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	u := New(Options{Store: st, API: fa, Finisher: &fakeFinisher{failed: map[string]string{}}, Tracker: &fakeTracker{docs: map[string]string{}},
		MaxBatchFiles: 50, MaxBatchBytes: 1 << 20, CreditRecheck: 5 * time.Millisecond, Once: true})
	if err := u.Recover(); err != nil {
		t.Fatal(err)
	}
	u.IntakeClosed()
	return u, st
}

// Documents whose keys are not a parser and a hex sha256 go through the
// queue into batches under their own keys, also when a batch sends one
// back to the queue.
func TestOddKeysGoIntoBatchesUnchanged(t *testing.T) {
	canon := state.DocKey("prs", fmt.Sprintf("%064x", 7))
	u, st := newOddUploader(t, &fakeAPI{rename: func(s string) string { return s }, credits: 100},
		[2]string{"prs:s1", "/in/a.pdf"}, [2]string{"prs:/in/queued.pdf-sha", "/in/b.pdf"}, [2]string{canon, "/in/c.pdf"}, [2]string{"prs:s4", "/in/d.pdf"})

	// d.pdf is renamed a.pdf in the state after it was queued: the batch
	// cannot hold both, and d goes back to the queue for the next one.
	if err := st.Update(func(tx *state.Tx) error {
		d, _, err := tx.Doc("prs:s4")
		if err != nil {
			return err
		}
		if err := tx.DetachAll(&d); err != nil {
			return err
		}
		d.Files = []string{"/in/other/a.pdf"}
		return tx.SeedDoc(d)
	}); err != nil {
		t.Fatal(err)
	}
	var batched [][]string
	for range 3 {
		b, ok := u.form()
		if !ok {
			break
		}
		batched = append(batched, b.Docs)
		u.end(b, (*credits).release)
	}
	want := [][]string{{"prs:s1", "prs:/in/queued.pdf-sha", canon}, {"prs:s4"}}
	if !reflect.DeepEqual(batched, want) {
		t.Errorf("batches %q, want %q", batched, want)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if n, odd := u.queue.Len(), len(u.queue.odd); n != 0 || odd != 0 {
		t.Errorf("%d documents still queued, %d keys in the side table", n, odd)
	}
}

// A document leaving the queue without a batch (every file changed) takes
// its unusual key out of the side table, and leaves the others queued.
func TestUnqueueOddKey(t *testing.T) {
	u, _ := newOddUploader(t, &fakeAPI{}, [2]string{"prs:s1", "/in/a.pdf"}, [2]string{"prs:s2", "/in/b.pdf"})
	u.unqueue("prs", "prs:s1")
	u.mu.Lock()
	defer u.mu.Unlock()
	f := u.queue.of("prs")
	if f.Len() != 1 || u.queue.key("prs", f.front()) != "prs:s2" || len(u.queue.odd) != 1 {
		t.Errorf("%d queued, %d odd keys, want prs:s2 alone", f.Len(), len(u.queue.odd))
	}
}

// backlogDoc is the i-th document of a backlog of one parser, with a key
// and a path of its own as intake makes them.
func backlogDoc(i int) state.Doc {
	sha := fmt.Sprintf("%064x", i*7919)
	return state.Doc{Key: state.DocKey("prs_invoice", sha), ParserID: "prs_invoice", SHA256: sha, Pages: 1, Size: 1000,
		Files: []string{fmt.Sprintf("/srv/scans/inbox/2026-11/scan-%06d.pdf", i)}}
}

// queueBacklog queues n documents as intake does: each one made, queued
// and dropped, so only what the queue keeps of it stays alive.
func queueBacklog(u *Uploader, n int) {
	now := time.Now()
	for i := range n {
		d := backlogDoc(i)
		u.mu.Lock()
		u.queue.of(d.ParserID).pushBack(u.queue.entry(d.ParserID, d, now))
		u.mu.Unlock()
	}
}

// heapPerDoc returns the live heap the queue of n documents holds, per
// document.
func heapPerDoc(n int) float64 {
	u := New(Options{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	queueBacklog(u, n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(u)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

// A backlog of 100,000 documents costs the heap well under 80 bytes a
// document (an entry is 56); with a key string in each entry it would be
// about 200.
func TestQueuedDocumentBytes(t *testing.T) {
	const n = 100_000
	got := heapPerDoc(n)
	t.Logf("%d queued documents hold %.1f bytes each", n, got)
	if got > 80 {
		t.Errorf("the queue holds %.1f bytes a document, want at most 80", got)
	}
	if got := unsafe.Sizeof(queued{}); got != 56 {
		t.Errorf("an entry is %d bytes, want 56", got)
	}
	// Queuing a document allocates nothing but, once every 512, a block.
	u := New(Options{})
	sha := fmt.Sprintf("%064x", 1)
	d := state.Doc{Key: state.DocKey("prs", sha), ParserID: "prs", SHA256: sha, Pages: 1, Size: 1, Files: []string{"/in/a.pdf"}}
	now := time.Now()
	f := u.queue.of("prs")
	if a := testing.AllocsPerRun(10*blockLen, func() { f.pushBack(u.queue.entry("prs", d, now)) }); a != 0 {
		t.Errorf("%v allocations a queued document, want none but a block now and then", a)
	}
}

// BenchmarkQueue100k queues 100,000 documents and takes them out again in
// batches of 50, rebuilding each key; B/doc is the live heap the full queue
// holds per document.
func BenchmarkQueue100k(b *testing.B) {
	const n = 100_000
	perDoc := heapPerDoc(n)
	docs := make([]state.Doc, n)
	for i := range docs {
		docs[i] = backlogDoc(i)
	}
	for b.Loop() {
		u := New(Options{})
		now := time.Now()
		for _, d := range docs {
			u.queue.of(d.ParserID).pushBack(u.queue.entry(d.ParserID, d, now))
		}
		f := u.queue.of("prs_invoice")
		for f.Len() > 0 {
			take, _, _, _ := pick(f, 50, 1<<30, &u.credits)
			for _, e := range take {
				_ = u.queue.key("prs_invoice", e)
			}
			u.queue.release(take)
		}
	}
	b.ReportMetric(perDoc, "B/doc")
}
