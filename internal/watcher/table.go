package watcher

import (
	"encoding/binary"
	"hash/maphash"
	"iter"
	"math"
	"os"
	"strings"
	"unsafe"
)

// A table maps file paths to values of type V, laid out for inboxes of
// hundreds of thousands of files (see docs/watcher-memory.md):
//
//   - folders are interned once in a folders shared by the watcher's
//     tables: each file refers to its folder by a small id, and a folder's
//     path is dropped when no file in any table refers to it any more;
//   - each file is an entry in one dense slice: the folder id, the offset
//     of its name in one byte arena and the value inline, with no pointer
//     per file;
//   - a name is stored once, as what it does not share with its folder's
//     model name (the first name seen there): scanners and exports name a
//     folder's files alike (invoice-004217.pdf, invoice-004218.pdf), so
//     most of a name is the prefix and suffix it shares with the model;
//   - an open-addressed index of uint32 positions finds an entry by the
//     hash of (folder, name).
//
// Lookups by a path that points into a caller's buffer never allocate;
// set copies the name only when it adds an entry. Deleting marks the entry
// dead; dead entries and their names are compacted away once they are
// about a third of the table, never during an iteration. A table is not
// safe for concurrent use.
type table[V any] struct {
	dirs  *folders
	seed  maphash.Seed
	ents  []entry[V]
	index []uint32 // slotEmpty, slotDeleted or an entry's position + 2
	names []byte   // coded names (see appendName)
	// live and dead count entries; used counts index slots not empty;
	// nameBytes is the arena bytes of live entries.
	live, dead, used, nameBytes int
	iters                       int    // iterations in progress: no compaction meanwhile
	buf                         []byte // path buffer reused by iterations
	scratch                     []byte // a name rebuilt for hashing
}

type entry[V any] struct {
	off uint32 // the coded name's offset in names
	dir uint32 // folder id, deadDir once deleted
	val V
}

const (
	slotEmpty   = 0
	slotDeleted = 1
	deadDir     = math.MaxUint32
	// compactMin is how many dead entries a table keeps at least before it
	// compacts (unless it is empty then).
	compactMin = 32
)

func newTable[V any](dirs *folders) *table[V] {
	return &table[V]{dirs: dirs, seed: maphash.MakeSeed()}
}

// len is the number of paths in the table.
func (t *table[V]) len() int { return t.live }

// get returns p's value.
func (t *table[V]) get(p string) (V, bool) {
	if _, pos := t.locate(p); pos >= 0 {
		return t.ents[pos].val, true
	}
	var zero V
	return zero, false
}

// has reports whether p is in the table.
func (t *table[V]) has(p string) bool {
	_, pos := t.locate(p)
	return pos >= 0
}

// ptr returns p's value for updating in place, nil if p is not in the
// table. It is valid until the table next adds or deletes an entry
// (deleting may compact it).
func (t *table[V]) ptr(p string) *V {
	if _, pos := t.locate(p); pos >= 0 {
		return &t.ents[pos].val
	}
	return nil
}

// set stores v for p. p may point into a caller's buffer: its name (and
// its folder, the first time) is copied only when p is new.
func (t *table[V]) set(p string, v V) {
	dir, name := splitPath(p)
	id, known := t.dirs.ids[dir]
	if known && t.live > 0 {
		if _, pos := t.probe(id, name, t.hash(id, name)); pos >= 0 {
			t.ents[pos].val = v
			return
		}
	}
	if len(t.names)+3*binary.MaxVarintLen64+len(name) > math.MaxUint32 {
		panic("watcher: more than 4 GiB of file names in one inbox")
	}
	if (t.used+1)*4 > len(t.index)*3 {
		t.rehash(indexSize(t.live + 1))
	}
	id = t.dirs.acquire(dir, name)
	slot, _ := t.probe(id, name, t.hash(id, name))
	if t.index[slot] == slotEmpty {
		t.used++
	}
	off := len(t.names)
	t.names = appendName(grow(t.names, 3*binary.MaxVarintLen64+len(name)), t.dirs.models[id], name)
	t.nameBytes += len(t.names) - off
	t.ents = append(grow(t.ents, 1), entry[V]{off: uint32(off), dir: id, val: v})
	t.index[slot] = uint32(len(t.ents) - 1 + 2)
	t.live++
}

// del removes p and reports whether it was there. It may be called during
// an iteration, for the current path or any other.
func (t *table[V]) del(p string) bool {
	slot, pos := t.locate(p)
	if pos < 0 {
		return false
	}
	t.kill(slot, pos)
	t.tidy()
	return true
}

// all yields every path with a pointer to its value, in no particular
// order. The path points into a buffer reused for the next path (clone it
// to keep it); the value pointer is valid until the next set that adds an
// entry (the table is not compacted during an iteration). The loop body
// may delete any path: paths deleted before they are reached are not
// yielded. Paths added meanwhile may or may not be.
func (t *table[V]) all() iter.Seq2[string, *V] {
	return func(yield func(string, *V) bool) {
		buf := t.beginIter()
		defer func() { t.endIter(buf) }()
		for i := 0; i < len(t.ents); i++ {
			e := &t.ents[i]
			if e.dir == deadDir {
				continue
			}
			buf = t.appendPath(buf[:0], e)
			if !yield(unsafe.String(unsafe.SliceData(buf), len(buf)), &e.val) {
				return
			}
		}
	}
}

// delUnder removes every path that starts with prefix, which ends with a
// separator (a folder and everything below it), calling fn (if not nil)
// with each path removed, valid only during the call. fn must not add
// entries to the watcher's tables.
func (t *table[V]) delUnder(prefix string, fn func(p string)) {
	if t.live == 0 {
		return
	}
	match := t.dirs.under(prefix)
	if match == nil {
		return
	}
	buf := t.beginIter()
	defer func() { t.endIter(buf) }()
	for i := 0; i < len(t.ents); i++ {
		e := &t.ents[i]
		if e.dir == deadDir || int(e.dir) >= len(match) || !match[e.dir] {
			continue
		}
		buf = t.appendPath(buf[:0], e)
		t.kill(t.slotOf(i), i)
		if fn != nil {
			fn(unsafe.String(unsafe.SliceData(buf), len(buf)))
		}
	}
}

// locate finds p's index slot and entry position (-1 if absent).
func (t *table[V]) locate(p string) (slot, pos int) {
	if t.live == 0 {
		return -1, -1
	}
	dir, name := splitPath(p)
	id, ok := t.dirs.ids[dir]
	if !ok {
		return -1, -1
	}
	return t.probe(id, name, t.hash(id, name))
}

// probe returns the slot and position of (dir, name) or, when it is
// absent, position -1 and the slot where it would go. The index must have
// an empty slot.
func (t *table[V]) probe(dir uint32, name string, h uint64) (slot, pos int) {
	n := len(t.index)
	free := -1
	for i := home(h, n); ; i = next(i, n) {
		switch v := t.index[i]; v {
		case slotEmpty:
			if free < 0 {
				free = i
			}
			return free, -1
		case slotDeleted:
			if free < 0 {
				free = i
			}
		default:
			if e := &t.ents[v-2]; e.dir == dir && t.nameIs(e, name) {
				return i, int(v - 2)
			}
		}
	}
}

// slotOf returns the index slot of the live entry at pos.
func (t *table[V]) slotOf(pos int) int {
	n := len(t.index)
	want := uint32(pos + 2)
	for i := home(t.entryHash(&t.ents[pos]), n); ; i = next(i, n) {
		if t.index[i] == want {
			return i
		}
	}
}

// home is the first slot of hash h in an index of n slots.
func home(h uint64, n int) int { return int((h >> 32) * uint64(n) >> 32) }

func next(i, n int) int {
	if i++; i == n {
		return 0
	}
	return i
}

func (t *table[V]) hash(dir uint32, name string) uint64 {
	return maphash.String(t.seed, name) ^ (uint64(dir)+1)*0x9e3779b97f4a7c15
}

// entryHash hashes a stored entry as hash hashes its path.
func (t *table[V]) entryHash(e *entry[V]) uint64 {
	t.scratch = t.appendEntryName(t.scratch[:0], e)
	return t.hash(e.dir, unsafe.String(unsafe.SliceData(t.scratch), len(t.scratch)))
}

// appendName appends name coded against its folder's model name: the
// lengths of the prefix and of the suffix it shares with model, then the
// rest's length and bytes.
func appendName(b []byte, model, name string) []byte {
	k := 0
	for k < len(model) && k < len(name) && model[k] == name[k] {
		k++
	}
	j := 0
	for j < len(model)-k && j < len(name)-k && model[len(model)-1-j] == name[len(name)-1-j] {
		j++
	}
	b = binary.AppendUvarint(b, uint64(k))
	b = binary.AppendUvarint(b, uint64(j))
	b = binary.AppendUvarint(b, uint64(len(name)-k-j))
	return append(b, name[k:len(name)-j]...)
}

// coded decodes the name at off: the prefix and suffix lengths it shares
// with the model, its own bytes, and how many arena bytes it takes.
func (t *table[V]) coded(off uint32) (k, j int, mid []byte, size int) {
	b := t.names[off:]
	uk, n1 := binary.Uvarint(b)
	uj, n2 := binary.Uvarint(b[n1:])
	um, n3 := binary.Uvarint(b[n1+n2:])
	start := n1 + n2 + n3
	return int(uk), int(uj), b[start : start+int(um)], start + int(um)
}

// nameIs reports whether e's name is name.
func (t *table[V]) nameIs(e *entry[V], name string) bool {
	k, j, mid, _ := t.coded(e.off)
	model := t.dirs.models[e.dir]
	return len(name) == k+len(mid)+j && name[:k] == model[:k] &&
		name[k:k+len(mid)] == string(mid) && name[k+len(mid):] == model[len(model)-j:]
}

func (t *table[V]) appendEntryName(buf []byte, e *entry[V]) []byte {
	k, j, mid, _ := t.coded(e.off)
	model := t.dirs.models[e.dir]
	return append(append(append(buf, model[:k]...), mid...), model[len(model)-j:]...)
}

func (t *table[V]) appendPath(buf []byte, e *entry[V]) []byte {
	return t.appendEntryName(append(buf, t.dirs.paths[e.dir]...), e)
}

// kill marks the entry at pos (found at slot) dead.
func (t *table[V]) kill(slot, pos int) {
	e := &t.ents[pos]
	_, _, _, size := t.coded(e.off)
	t.nameBytes -= size
	t.dirs.release(e.dir)
	var zero V
	e.dir, e.val = deadDir, zero
	t.index[slot] = slotDeleted
	t.live--
	t.dead++
}

// tidy compacts the table when enough of it is dead, and lets go of all
// of its memory once it is empty. It does nothing during an iteration.
func (t *table[V]) tidy() {
	switch {
	case t.iters > 0 || t.dead == 0:
	case t.live == 0:
		t.ents, t.index, t.names, t.scratch = nil, nil, nil, nil
		t.dead, t.used, t.nameBytes = 0, 0, 0
	case t.dead >= compactMin && t.dead*2 >= t.live:
		ents := make([]entry[V], 0, t.live)
		names := make([]byte, 0, t.nameBytes)
		for _, e := range t.ents {
			if e.dir == deadDir {
				continue
			}
			_, _, _, size := t.coded(e.off)
			names = append(names, t.names[e.off:int(e.off)+size]...)
			e.off = uint32(len(names) - size)
			ents = append(ents, e)
		}
		t.ents, t.names, t.dead = ents, names, 0
		t.rehash(indexSize(t.live))
	}
}

// rehash rebuilds the index with size slots.
func (t *table[V]) rehash(size int) {
	t.index = make([]uint32, size)
	for pos := range t.ents {
		e := &t.ents[pos]
		if e.dir == deadDir {
			continue
		}
		i := home(t.entryHash(e), size)
		for t.index[i] != slotEmpty {
			i = next(i, size)
		}
		t.index[i] = uint32(pos + 2)
	}
	t.used = t.live
}

// beginIter starts an iteration: no compaction until endIter, and the
// table's path buffer lent to it.
func (t *table[V]) beginIter() []byte {
	t.iters++
	return t.takeBuf()
}

// endIter ends an iteration, taking back its buffer, and compacts if the
// iteration deleted enough.
func (t *table[V]) endIter(buf []byte) {
	t.iters--
	t.buf = buf
	t.tidy()
}

// takeBuf hands an iteration the table's path buffer, or a new one when
// an outer iteration holds it.
func (t *table[V]) takeBuf() []byte {
	buf := t.buf
	t.buf = nil
	if buf == nil {
		buf = make([]byte, 0, 256)
	}
	return buf
}

// indexSize is the index size for n entries: at least 8 slots, a little
// over half full, so it grows again (at three quarters) after n has grown
// by a third.
func indexSize(n int) int {
	return max(8, n*9/5)
}

// grow makes room for extra more elements in s, growing it by an eighth
// rather than append's quarter: the tables are the largest slices in the
// daemon, and their slack is memory held for nothing.
func grow[T any](s []T, extra int) []T {
	if len(s)+extra <= cap(s) {
		return s
	}
	n := len(s) + extra
	return append(make([]T, 0, n+n/8+16), s...)
}

// splitPath cuts p after its last separator: the folder keeps the
// separator, so folder+name is p byte for byte.
func splitPath(p string) (dir, name string) {
	i := len(p) - 1
	for i >= 0 && !os.IsPathSeparator(p[i]) {
		i--
	}
	return p[:i+1], p[i+1:]
}

// folders interns the folders of the paths in a watcher's tables: each
// folder path is stored once, under a small id, for as long as a file in
// any table refers to it.
type folders struct {
	ids   map[string]uint32
	paths []string // by id; "" when free
	// models holds, by id, the first file name seen in the folder: the
	// tables store each name as its difference from it.
	models []string
	refs   []uint32 // by id: entries that refer to the folder
	free   []uint32 // ids free for reuse
}

func newFolders() *folders {
	return &folders{ids: map[string]uint32{}}
}

// len is the number of folders interned.
func (f *folders) len() int { return len(f.ids) }

// acquire returns dir's id, interning a copy of dir if it is new (with
// a copy of name as its model), and counts one more reference to it.
func (f *folders) acquire(dir, name string) uint32 {
	if id, ok := f.ids[dir]; ok {
		f.refs[id]++
		return id
	}
	dir, name = strings.Clone(dir), strings.Clone(name)
	var id uint32
	if n := len(f.free); n > 0 {
		id, f.free = f.free[n-1], f.free[:n-1]
		f.paths[id], f.models[id], f.refs[id] = dir, name, 1
	} else {
		if len(f.paths) >= deadDir {
			panic("watcher: more than 4 billion folders in one inbox")
		}
		id = uint32(len(f.paths))
		f.paths = append(f.paths, dir)
		f.models = append(f.models, name)
		f.refs = append(f.refs, 1)
	}
	f.ids[dir] = id
	return id
}

// release drops one reference to folder id, and the folder with the last.
func (f *folders) release(id uint32) {
	f.refs[id]--
	if f.refs[id] > 0 {
		return
	}
	delete(f.ids, f.paths[id])
	f.paths[id], f.models[id] = "", ""
	if len(f.ids) == 0 {
		f.paths, f.models, f.refs, f.free = nil, nil, nil, nil
		return
	}
	f.free = append(f.free, id)
}

// under marks, by id, the folders whose paths start with prefix; nil when
// there are none.
func (f *folders) under(prefix string) []bool {
	var match []bool
	for dir, id := range f.ids {
		if strings.HasPrefix(dir, prefix) {
			if match == nil {
				match = make([]bool, len(f.paths))
			}
			match[id] = true
		}
	}
	return match
}
