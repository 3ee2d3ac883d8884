package uploader

import (
	"crypto/sha256"
	"math"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// queued is a document waiting in the queue of its parser. During a large
// backlog nearly every document waits here, so an entry holds no pointer
// (the garbage collector never scans the queue) and costs 56 bytes: the
// document key is rebuilt from the parser and the content hash when the
// document leaves the queue (queues.key).
type queued struct {
	sha   [32]byte // the content hash of the key; see queues.hold for other keys
	at    int64    // when it was queued: nanoseconds since queues.epoch (monotonic)
	size  int64
	pages int32
	// name is a hash of the name the document is uploaded under. pick uses
	// it only to keep two documents of one upload name out of one batch; a
	// collision of two different names merely makes one of them wait for
	// the next batch, and commitIntent checks the real names in the state
	// (a name already in the batch goes back to the queue through left).
	name uint32
}

// blockLen is how many entries one block of a queue holds (28 KiB).
const blockLen = 512

// fifo is the queue of one parser: a list of fixed blocks, so a long queue
// grows without ever copying itself, and a block is freed as soon as its
// last entry is consumed.
type fifo struct {
	blocks []*[blockLen]queued
	head   int // index of the first entry in blocks[0]
	n      int
}

// Len returns how many entries are queued.
func (f *fifo) Len() int { return f.n }

// at returns the i-th entry from the front.
func (f *fifo) at(i int) *queued {
	j := f.head + i
	return &f.blocks[j/blockLen][j%blockLen]
}

// front returns the first entry; the queue must not be empty.
func (f *fifo) front() queued { return *f.at(0) }

// pushBack queues e last.
func (f *fifo) pushBack(e queued) {
	if f.head+f.n == len(f.blocks)*blockLen {
		f.blocks = append(f.blocks, new([blockLen]queued))
	}
	f.n++
	*f.at(f.n - 1) = e
}

// pushFront puts es before every queued entry, in their order.
func (f *fifo) pushFront(es []queued) {
	for i := len(es) - 1; i >= 0; i-- {
		if f.head == 0 {
			// Only the short list of block pointers is copied.
			f.blocks = append([]*[blockLen]queued{new([blockLen]queued)}, f.blocks...)
			f.head = blockLen
		}
		f.head--
		f.n++
		*f.at(0) = es[i]
	}
}

// popFront removes the first entry; the queue must not be empty.
func (f *fifo) popFront() queued {
	e := f.front()
	f.head++
	f.n--
	if f.n == 0 {
		f.reset()
	} else if f.head == blockLen {
		f.blocks[0] = nil
		f.blocks = f.blocks[1:]
		f.head = 0
	}
	return e
}

// removeFunc removes every entry for which drop is true, keeping the order
// of the others, and returns the removed ones.
func (f *fifo) removeFunc(drop func(*queued) bool) []queued {
	var out []queued
	w := 0
	for r := range f.n {
		e := f.at(r)
		if drop(e) {
			out = append(out, *e)
			continue
		}
		if w != r {
			*f.at(w) = *e
		}
		w++
	}
	if w == f.n {
		return out
	}
	f.n = w
	if f.n == 0 {
		f.reset()
		return out
	}
	used := (f.head + f.n + blockLen - 1) / blockLen
	clear(f.blocks[used:])
	f.blocks = f.blocks[:used]
	return out
}

// removeAt removes the entries at the increasing indexes idx, keeping the
// order of the others. Entries taken from the front (the usual case) cost
// nothing more than popping them.
func (f *fifo) removeAt(idx []int) {
	k := 0
	for k < len(idx) && idx[k] == k {
		k++
	}
	for range k {
		f.popFront()
	}
	if k == len(idx) {
		return
	}
	drop := make(map[int]bool, len(idx)-k)
	for _, i := range idx[k:] {
		drop[i-k] = true
	}
	i := -1
	f.removeFunc(func(*queued) bool { i++; return drop[i] })
}

// reset frees every block.
func (f *fifo) reset() {
	f.blocks, f.head, f.n = nil, 0, 0
}

// queues are the documents waiting for a batch, per parser, in order.
type queues struct {
	byParser map[string]*fifo
	// odd holds the keys that are not a parser and 64 lowercase hex digits
	// (older states, hand-made keys), by the hash their entries carry, with
	// how many entries refer to each.
	odd   map[[32]byte]oddKey
	epoch time.Time
}

type oddKey struct {
	key  string
	refs int
}

func newQueues() queues {
	return queues{byParser: map[string]*fifo{}, odd: map[[32]byte]oddKey{}, epoch: time.Now()}
}

// of returns the queue of parser, creating it.
func (qs *queues) of(parser string) *fifo {
	f := qs.byParser[parser]
	if f == nil {
		f = &fifo{}
		qs.byParser[parser] = f
	}
	return f
}

// Len returns how many documents are queued for every parser.
func (qs *queues) Len() int {
	n := 0
	for _, f := range qs.byParser {
		n += f.n
	}
	return n
}

// entry makes the queue entry of d in the queue of parser, queued at at.
func (qs *queues) entry(parser string, d state.Doc, at time.Time) queued {
	return queued{sha: qs.hold(parser, d.Key), at: int64(at.Sub(qs.epoch)), size: d.Size, pages: int32(min(d.Pages, math.MaxInt32)), name: nameHash(uploadName(d))}
}

// age returns how long e has waited.
func (qs *queues) age(e queued, now time.Time) time.Duration {
	return now.Sub(qs.epoch) - time.Duration(e.at)
}

// oddPrefix sets the hash of an odd key apart from every content hash: a
// file's content would have to be this text and the key to match it.
const oddPrefix = "ppsync queued document key\x00"

// hashOf returns the hash an entry for key carries in the queue of parser:
// for a key of the usual form (state.DocKey of parser and 64 lowercase hex
// digits) its decoded content hash, for any other key (odd) the hash of
// the key itself.
func hashOf(parser, key string) (sha [32]byte, odd bool) {
	if h, ok := canonical(parser, key); ok {
		for i := range sha {
			sha[i] = unhex(h[2*i])<<4 | unhex(h[2*i+1])
		}
		return sha, false
	}
	return sha256.Sum256([]byte(oddPrefix + key)), true
}

// hold returns the hash an entry for key carries in the queue of parser,
// and remembers an odd key until every entry holding it has left the queue
// (release).
func (qs *queues) hold(parser, key string) [32]byte {
	sha, odd := hashOf(parser, key)
	if !odd {
		return sha
	}
	o := qs.odd[sha]
	o.key = key
	o.refs++
	qs.odd[sha] = o
	return sha
}

// release forgets the odd keys of entries that left the queue for good.
func (qs *queues) release(es []queued) {
	if len(qs.odd) == 0 {
		return
	}
	for _, e := range es {
		o, ok := qs.odd[e.sha]
		if !ok {
			continue
		}
		if o.refs--; o.refs <= 0 {
			delete(qs.odd, e.sha)
		} else {
			qs.odd[e.sha] = o
		}
	}
}

// key rebuilds the document key of an entry of the queue of parser:
// state.DocKey(parser, hex.EncodeToString(e.sha[:])) in one allocation.
func (qs *queues) key(parser string, e queued) string {
	if o, ok := qs.odd[e.sha]; ok {
		return o.key
	}
	const digits = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(parser) + 1 + 2*len(e.sha))
	b.WriteString(parser)
	b.WriteByte(':')
	for _, c := range e.sha {
		b.WriteByte(digits[c>>4])
		b.WriteByte(digits[c&15])
	}
	return b.String()
}

// canonical returns the hash part of key when key is state.DocKey of
// parser and 64 lowercase hex digits, which encode and decode both ways.
func canonical(parser, key string) (string, bool) {
	if len(key) != len(parser)+1+64 || key[:len(parser)] != parser || key[len(parser)] != ':' {
		return "", false
	}
	h := key[len(parser)+1:]
	for i := range len(h) {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return h, true
}

// unhex is the value of a lowercase hex digit.
func unhex(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

// nameHash is the 32-bit FNV-1a hash of an upload name.
func nameHash(s string) uint32 {
	h := uint32(2166136261)
	for i := range len(s) {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
