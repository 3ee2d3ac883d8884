package watcher

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/patience"
)

// collect returns the table's contents as a map, failing on a path yielded twice.
func collect[V any](t *testing.T, tb *table[V]) map[string]V {
	t.Helper()
	got := map[string]V{}
	for p, v := range tb.all() {
		if _, dup := got[p]; dup {
			t.Fatalf("all yielded %q twice", p)
		}
		got[strings.Clone(p)] = *v
	}
	if len(got) != tb.len() {
		t.Fatalf("all yielded %d paths, len is %d", len(got), tb.len())
	}
	return got
}

func TestTableOperations(t *testing.T) {
	type op struct {
		del  bool
		path string
		size int64
	}
	tests := []struct {
		name string
		ops  []op
		want map[string]stamp
	}{
		{"insert", []op{{path: "/in/a.pdf", size: 1}, {path: "/in/b.pdf", size: 2}},
			map[string]stamp{"/in/a.pdf": {1, 0, 0}, "/in/b.pdf": {2, 0, 0}}},
		{"update keeps one entry", []op{{path: "/in/a.pdf", size: 1}, {path: "/in/a.pdf", size: 5}},
			map[string]stamp{"/in/a.pdf": {5, 0, 0}}},
		{"delete", []op{{path: "/in/a.pdf", size: 1}, {path: "/in/b.pdf", size: 2}, {del: true, path: "/in/a.pdf"}},
			map[string]stamp{"/in/b.pdf": {2, 0, 0}}},
		{"delete absent", []op{{path: "/in/a.pdf", size: 1}, {del: true, path: "/in/x.pdf"}, {del: true, path: "/out/a.pdf"}},
			map[string]stamp{"/in/a.pdf": {1, 0, 0}}},
		{"delete and insert again", []op{{path: "/in/a.pdf", size: 1}, {del: true, path: "/in/a.pdf"}, {path: "/in/a.pdf", size: 3}},
			map[string]stamp{"/in/a.pdf": {3, 0, 0}}},
		{"same name in two folders", []op{{path: "/in/x/a.pdf", size: 1}, {path: "/in/y/a.pdf", size: 2}, {del: true, path: "/in/x/a.pdf"}},
			map[string]stamp{"/in/y/a.pdf": {2, 0, 0}}},
		{"folder name is not a file name", []op{{path: "/in/a", size: 1}, {path: "/in/a/b", size: 2}},
			map[string]stamp{"/in/a": {1, 0, 0}, "/in/a/b": {2, 0, 0}}},
		{"relative path and empty name", []op{{path: "a.pdf", size: 1}, {path: "/in/", size: 2}, {path: "", size: 3}},
			map[string]stamp{"a.pdf": {1, 0, 0}, "/in/": {2, 0, 0}, "": {3, 0, 0}}},
		{"raw bytes", []op{{path: "/in/\xff\xfe/\x80scan\xc3.pdf", size: 7}, {path: "/in/\xff\xfe/ok.pdf", size: 8}},
			map[string]stamp{"/in/\xff\xfe/\x80scan\xc3.pdf": {7, 0, 0}, "/in/\xff\xfe/ok.pdf": {8, 0, 0}}},
		{"long name", []op{{path: "/in/" + strings.Repeat("é", 300), size: 9}},
			map[string]stamp{"/in/" + strings.Repeat("é", 300): {9, 0, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := newTable[stamp](newFolders())
			for _, o := range tt.ops {
				if o.del {
					tb.del(o.path)
				} else {
					tb.set(o.path, stamp{size: o.size})
				}
			}
			if got := collect(t, tb); !maps.Equal(got, tt.want) {
				t.Fatalf("table holds %v, want %v", got, tt.want)
			}
			for p, s := range tt.want {
				if got, ok := tb.get(p); !ok || got != s || !tb.has(p) || tb.ptr(p) == nil {
					t.Errorf("get(%q) = %v, %v; want %v", p, got, ok, s)
				}
			}
			if _, ok := tb.get("/nowhere/a.pdf"); ok || tb.has("/in/zzz.pdf") || tb.ptr("/in/zzz.pdf") != nil {
				t.Error("a path never set is found")
			}
		})
	}
}

func TestTablePtrUpdatesInPlace(t *testing.T) {
	tb := newTable[cand](newFolders())
	tb.set("/in/a.pdf", cand{stamp: stamp{1, 2, 0}, times: 3})
	c := tb.ptr("/in/a.pdf")
	c.stamp, c.times = stamp{4, 5, 0}, 6
	if got, _ := tb.get("/in/a.pdf"); got != (cand{stamp: stamp{4, 5, 0}, times: 6}) {
		t.Fatalf("after update through ptr: %v", got)
	}
}

func TestFoldersInternedOnceAndReleased(t *testing.T) {
	dirs := newFolders()
	cands, emitted := newTable[cand](dirs), newTable[stamp](dirs)
	for i := range 10 {
		cands.set(fmt.Sprintf("/in/x/%d.pdf", i), cand{})
		emitted.set(fmt.Sprintf("/in/x/%d.pdf", i), stamp{})
	}
	emitted.set("/in/y/1.pdf", stamp{})
	if dirs.len() != 2 {
		t.Fatalf("%d folders interned, want 2", dirs.len())
	}
	// The same folder is one string for every file and both tables.
	id := dirs.ids["/in/x/"]
	if dirs.paths[id] != "/in/x/" || dirs.refs[id] != 20 {
		t.Fatalf("folder /in/x/: path %q, %d references; want 20", dirs.paths[id], dirs.refs[id])
	}
	for i := range 10 {
		cands.del(fmt.Sprintf("/in/x/%d.pdf", i))
	}
	if _, ok := dirs.ids["/in/x/"]; !ok {
		t.Fatal("folder dropped while reported files still refer to it")
	}
	for i := range 10 {
		emitted.del(fmt.Sprintf("/in/x/%d.pdf", i))
	}
	if _, ok := dirs.ids["/in/x/"]; ok || dirs.len() != 1 {
		t.Fatalf("folder kept after its last file went: %v", dirs.ids)
	}
	// A released id is reused for the next new folder.
	emitted.set("/in/z/1.pdf", stamp{size: 1})
	if got := dirs.ids["/in/z/"]; got != id {
		t.Errorf("new folder got id %d, want the free id %d", got, id)
	}
	if got, ok := emitted.get("/in/z/1.pdf"); !ok || got.size != 1 {
		t.Errorf("file in reused folder id: %v, %v", got, ok)
	}
	emitted.del("/in/y/1.pdf")
	emitted.del("/in/z/1.pdf")
	if dirs.len() != 0 || dirs.paths != nil {
		t.Errorf("folders left after every file went: %v %q", dirs.ids, dirs.paths)
	}
}

func TestTableDelUnder(t *testing.T) {
	dirs := newFolders()
	emitted, cands := newTable[stamp](dirs), newTable[cand](dirs)
	keep := []string{"/in/ab/1.pdf", "/in/a.pdf", "/in/b/a/1.pdf", "/other/a/1.pdf"}
	gone := []string{"/in/a/1.pdf", "/in/a/2.pdf", "/in/a/deep/3.pdf", "/in/a/\xff/4.pdf"}
	for _, p := range slices.Concat(keep, gone) {
		emitted.set(p, stamp{})
		cands.set(p, cand{})
	}
	var removed []string
	emitted.delUnder("/in/a/", func(p string) { removed = append(removed, strings.Clone(p)) })
	cands.delUnder("/in/a/", nil)
	slices.Sort(removed)
	if want := slices.Sorted(slices.Values(gone)); !slices.Equal(removed, want) {
		t.Fatalf("removed %q, want %q", removed, want)
	}
	for _, tb := range []map[string]bool{keysOf(t, emitted), keysOf(t, cands)} {
		if want := slices.Sorted(slices.Values(keep)); !slices.Equal(slices.Sorted(maps.Keys(tb)), want) {
			t.Fatalf("left %q, want %q", slices.Sorted(maps.Keys(tb)), want)
		}
	}
	for _, d := range []string{"/in/a/", "/in/a/deep/", "/in/a/\xff/"} {
		if _, ok := dirs.ids[d]; ok {
			t.Errorf("folder %q kept after it vanished", d)
		}
	}
	emitted.delUnder("/nothing/", func(p string) { t.Errorf("removed %q under a prefix no file has", p) })
}

func keysOf[V any](t *testing.T, tb *table[V]) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	for p := range collect(t, tb) {
		got[p] = true
	}
	return got
}

func TestTableDeleteDuringIteration(t *testing.T) {
	tb := newTable[stamp](newFolders())
	const n = 1000
	for i := range n {
		tb.set(fmt.Sprintf("/in/d%d/f%d.pdf", i%7, i), stamp{size: int64(i)})
	}
	// Every path is visited once. Odd sizes delete themselves; every visit
	// also deletes the path of size+500 (not reached yet, or reached
	// already): a path deleted before it is reached is never visited.
	deleted, visited := map[string]bool{}, map[int64]bool{}
	for p, s := range tb.all() {
		if deleted[p] || visited[s.size] {
			t.Fatalf("visited %q again or after it was deleted", p)
		}
		visited[s.size] = true
		if s.size%2 == 1 {
			if !tb.del(p) {
				t.Fatalf("del(%q) during iteration: not found", p)
			}
			deleted[strings.Clone(p)] = true
		}
		if other := s.size + 500; other < n {
			q := fmt.Sprintf("/in/d%d/f%d.pdf", other%7, other)
			if tb.del(q) {
				deleted[q] = true
			}
		}
	}
	for size := range int64(500) {
		if !visited[size] {
			t.Errorf("path of size %d never visited", size)
		}
	}
	left := collect(t, tb)
	if len(left) != 250 || len(deleted) != n-250 {
		t.Fatalf("%d paths left, %d deleted; want 250 and %d", len(left), len(deleted), n-250)
	}
	for p, s := range left {
		if s.size%2 == 1 || s.size >= 500 {
			t.Errorf("%q (size %d) survived", p, s.size)
		}
	}
	// The dead entries went when the iteration ended.
	if tb.dead != 0 || len(tb.ents) != tb.len() {
		t.Errorf("after the iteration: %d dead, %d entries for %d paths", tb.dead, len(tb.ents), tb.len())
	}
	for p := range tb.all() {
		tb.del(p)
	}
	if tb.len() != 0 || tb.ents != nil || tb.index != nil || tb.names != nil {
		t.Errorf("an emptied table keeps its memory: %d entries, %d slots, %d name bytes", len(tb.ents), len(tb.index), len(tb.names))
	}
}

func TestTableNestedIteration(t *testing.T) {
	tb := newTable[stamp](newFolders())
	paths := []string{"/in/a/1", "/in/a/2", "/in/b/1"}
	for _, p := range paths {
		tb.set(p, stamp{})
	}
	pairs := 0
	for p := range tb.all() {
		outer := strings.Clone(p)
		for range tb.all() {
			pairs++
		}
		tb.delUnder("/in/zzz/", nil) // a removal that finds nothing
		if p != outer {
			t.Fatalf("outer path changed by an inner iteration: %q, was %q", p, outer)
		}
	}
	if pairs != len(paths)*len(paths) {
		t.Errorf("%d pairs, want %d", pairs, len(paths)*len(paths))
	}
}

// TestTableAgainstMap runs random operations on a table and a map and
// compares them throughout, across growth and compaction.
func TestTableAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dirs := newFolders()
	tb := newTable[cand](dirs)
	ref := map[string]cand{}
	path := func() string {
		return fmt.Sprintf("/srv/inbox/b%d/f%d\xfe.pdf", rng.IntN(20), rng.IntN(300))
	}
	for i := range 20000 {
		switch r := rng.IntN(10); {
		case r < 5:
			p, v := path(), cand{stamp: stamp{int64(i), rng.Int64(), 0}, times: times(i)}
			tb.set(p, v)
			ref[p] = v
		case r < 8:
			p := path()
			_, want := ref[p]
			if got := tb.del(p); got != want {
				t.Fatalf("step %d: del(%q) = %v, want %v", i, p, got, want)
			}
			delete(ref, p)
		case r < 9:
			for p, c := range tb.all() {
				if rng.IntN(3) == 0 {
					tb.del(p)
					delete(ref, p)
				} else {
					c.times++
					v := ref[p]
					v.times++
					ref[strings.Clone(p)] = v // assigning replaces the key too
				}
			}
		default:
			p := path()
			got, ok := tb.get(p)
			if want, wok := ref[p]; ok != wok || got != want {
				t.Fatalf("step %d: get(%q) = %v, %v; want %v, %v", i, p, got, ok, want, wok)
			}
		}
		if tb.len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", i, tb.len(), len(ref))
		}
	}
	if got := collect(t, tb); !maps.Equal(got, ref) {
		t.Fatal("table and map differ at the end")
	}
	if (tb.dead >= compactMin && tb.dead*2 >= tb.live) || tb.used*4 > len(tb.index)*3 {
		t.Errorf("table not kept tidy: %d live, %d dead, %d of %d slots used", tb.live, tb.dead, tb.used, len(tb.index))
	}
}

// TestTableNoAllocations: looking up, updating and iterating paths that
// are already in the tables allocates nothing, whatever buffer the path
// points into. A rescan of unchanged files depends on it.
func TestTableNoAllocations(t *testing.T) {
	w := New(Options{})
	var paths []string
	for i := range 1000 {
		p := fmt.Sprintf("/srv/inbox/batch-%03d/invoice-%06d.pdf", i%10, i)
		paths = append(paths, p)
		w.emitted.set(p, stamp{int64(i), 1, 0})
		w.cands.set(p, cand{stamp: stamp{int64(i), 2, 0}, times: 0})
	}
	buf := make([]byte, 0, 128)
	var missing int
	allocs := testing.AllocsPerRun(10, func() {
		for i, p := range paths {
			buf = append(buf[:0], p...)
			q := unsafe.String(unsafe.SliceData(buf), len(buf))
			w.observeStamp(q, stamp{int64(i), 1, 0}) // reported, unchanged
			if c := w.cands.ptr(q); c == nil || !w.emitted.has(q) {
				missing++
			} else {
				c.times++
			}
		}
		for _, c := range w.cands.all() {
			c.times++
		}
	})
	if missing > 0 {
		t.Fatalf("%d lookups missed", missing)
	}
	if allocs != 0 {
		t.Errorf("%.0f allocations per 1,000 unchanged files, want 0", allocs)
	}
}

// TestTableHalvesMemory holds the table to its purpose: at 100,000 files
// it takes at most half the memory of maps keyed by the full path.
func TestTableHalvesMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 100,000-entry tables; skipped in -short runs")
	}
	paths := inboxPaths()
	for _, role := range []string{"candidates", "reported"} {
		old, cur := heapPerFile(role, "maps", paths), heapPerFile(role, "table", paths)
		t.Logf("%s: %.1f bytes per file in maps by path, %.1f in the table", role, old, cur)
		if cur > old/2 {
			t.Errorf("%s: %.1f bytes per file, more than half of the %.1f of maps by path", role, cur, old)
		}
	}
}

// BenchmarkTable100k reports the live heap per file of 100,000 files
// (200 folders of 500) held as candidates, as reported, and both tables
// after a backlog of that many was found at once and reported (drained).
// "maps" is the layout the tables replaced (maps by full path, a *cand per
// candidate), "table" the tables in use, "single" one table holding both
// states of a file in one entry.
func BenchmarkTable100k(b *testing.B) {
	paths := inboxPaths()
	for _, layout := range []string{"maps", "table", "single"} {
		for _, role := range []string{"candidates", "reported", "drained"} {
			if layout == "single" && role == "drained" {
				continue // one entry per file either way: the reported figure
			}
			b.Run(layout+"/"+role, func(b *testing.B) {
				var per float64
				for b.Loop() {
					per = heapPerFile(role, layout, paths)
				}
				b.ReportMetric(per, "B/file")
			})
		}
	}
}

// inboxPaths returns 100,000 paths like /srv/inbox/batch-042/invoice-004217.pdf.
func inboxPaths() []string {
	paths := make([]string, 0, 100000)
	for i := range cap(paths) {
		paths = append(paths, fmt.Sprintf("/srv/inbox/batch-%03d/invoice-%06d.pdf", i/500, i))
	}
	return paths
}

// oldCand is the candidate value of the layout the tables replaced.
type oldCand struct {
	stamp
	stableSince time.Time
}

// fileState is one table entry holding both states of a file, for
// comparison.
type fileState struct {
	reported    stamp
	cand        stamp
	stableSince int64
	flags       uint8
}

// heapPerFile returns the live heap, in bytes per file, that holding
// paths as candidates or as reported files takes in a layout. Each path is
// handed over from a reused buffer, as a scan does.
func heapPerFile(role, layout string, paths []string) float64 {
	buf := make([]byte, 0, 128)
	scanned := func(p string) string {
		buf = append(buf[:0], p...)
		return unsafe.String(unsafe.SliceData(buf), len(buf))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var keep any
	switch layout + "/" + role {
	case "maps/candidates":
		m := map[string]*oldCand{}
		for i, p := range paths {
			m[strings.Clone(scanned(p))] = &oldCand{stamp{int64(i), 1, 0}, time.Now()}
		}
		keep = m
	case "maps/reported":
		m := map[string]stamp{}
		for i, p := range paths {
			m[strings.Clone(scanned(p))] = stamp{int64(i), 1, 0}
		}
		keep = m
	case "maps/drained":
		cands, emitted := map[string]*oldCand{}, map[string]stamp{}
		for i, p := range paths {
			cands[strings.Clone(scanned(p))] = &oldCand{stamp{int64(i), 1, 0}, time.Now()}
		}
		for p, c := range cands {
			emitted[p] = c.stamp
			delete(cands, p)
		}
		keep = []any{cands, emitted}
	case "table/drained":
		dirs := newFolders()
		cands, emitted := newTable[cand](dirs), newTable[stamp](dirs)
		for i, p := range paths {
			cands.set(scanned(p), cand{stamp: stamp{int64(i), 1, 0}, times: times(i)})
		}
		for p, c := range cands.all() {
			emitted.set(p, c.stamp)
			cands.del(p)
		}
		keep = []any{cands, emitted}
	case "table/candidates":
		tb := newTable[cand](newFolders())
		for i, p := range paths {
			tb.set(scanned(p), cand{stamp: stamp{int64(i), 1, 0}, times: times(i)})
		}
		keep = tb
	case "table/reported":
		tb := newTable[stamp](newFolders())
		for i, p := range paths {
			tb.set(scanned(p), stamp{int64(i), 1, 0})
		}
		keep = tb
	case "single/candidates":
		tb := newTable[fileState](newFolders())
		for i, p := range paths {
			tb.set(scanned(p), fileState{cand: stamp{int64(i), 1, 0}, stableSince: int64(i), flags: 1})
		}
		keep = tb
	case "single/reported":
		tb := newTable[fileState](newFolders())
		for i, p := range paths {
			tb.set(scanned(p), fileState{reported: stamp{int64(i), 1, 0}, flags: 2})
		}
		keep = tb
	default:
		panic("heapPerFile: no layout " + layout + "/" + role)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(len(paths))
}

// TestWatcherTablesThroughAFolder follows a folder's life: its files,
// one with a name that is not UTF-8, are reported with their exact paths;
// moving the folder out of the inbox reports each of them Gone once and
// lets go of the folder.
func TestWatcherTablesThroughAFolder(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "batch-001")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(root, "top.pdf"),
		filepath.Join(sub, "invoice-000001.pdf"),
		filepath.Join(sub, "invoice-000002.pdf"),
		filepath.Join(sub, "scan-\xff\xfe.pdf"),
	}
	for _, p := range want {
		if err := os.WriteFile(p, []byte("%PDF-1.4\n%%EOF\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := Inbox{Path: root, Recursive: true, Include: []string{"*.pdf"}, Exclude: config.DefaultExclude(),
		Settle: 50 * time.Millisecond, IncompleteAfter: time.Second,
		RescanInterval: time.Hour, Watch: WatchAuto}
	w := New(Options{Inbox: in})
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Event, 16)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, out) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	defer stop()
	await := func(kind Kind, paths []string) {
		t.Helper()
		var got []string
		timeout := time.After(patience.Scale(10 * time.Second))
		for len(got) < len(paths) {
			select {
			case ev := <-out:
				if ev.Kind != kind {
					t.Fatalf("event %s %q, want %s", ev.Kind, ev.Path, kind)
				}
				got = append(got, ev.Path)
			case <-timeout:
				t.Fatalf("got %s for %q, want %q", kind, got, paths)
			}
		}
		slices.Sort(got)
		if want := slices.Sorted(slices.Values(paths)); !slices.Equal(got, want) {
			t.Fatalf("%s for %q, want %q", kind, got, want)
		}
	}
	await(Ready, want)
	if err := os.Rename(sub, filepath.Join(t.TempDir(), "moved")); err != nil {
		t.Fatal(err)
	}
	await(Gone, want[1:])
	deadline := time.Now().Add(patience.Scale(5 * time.Second))
	for w.Status().Tracked != 1 || w.Status().Settling != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("status %+v, want 1 tracked, none settling", w.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	select {
	case ev := <-out:
		t.Errorf("one event too many: %s %q", ev.Kind, ev.Path)
	default:
	}
	if _, ok := w.dirs.ids[sub+string(filepath.Separator)]; ok || w.dirs.len() != 1 {
		t.Errorf("folders after the subfolder went: %q", slices.Collect(maps.Keys(w.dirs.ids)))
	}
}
