package pdfcheck

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The page counter: a reader of the cross-reference sections, the catalog
// and the page tree whose memory does not grow with the number of pages or
// objects. Cross-reference entries are looked up where they lie in the
// file (or decoded again from a cross-reference stream) instead of being
// loaded into a table; objects are read one at a time; large containers are
// visited, never held. What it may keep is bounded by the constants below.

const (
	// bufSize is the read buffer of each open object (one per level of
	// the page tree being walked).
	bufSize = 4 << 10
	// maxSubsections bounds the cross-reference subsections remembered
	// (a table section lists a few; a file listing more is refused).
	maxSubsections = 16384
	// maxSections bounds the chain of incremental updates followed.
	maxSections = 1024
	// xrefCache bounds the decoded cross-reference streams kept (a
	// row is 5 to 10 bytes an object: some 250,000 objects); a larger one
	// is decoded again for each lookup.
	xrefCache = 2 << 20
	// objCache bounds the decoded object streams kept, the oldest dropped
	// first (a walk reads them in order); objStmMax is the largest kept.
	objCache  = 512 << 10
	objStmMax = 128 << 10
	// maxDecoded bounds the bytes decompressed in one count (a walk that
	// would need more trusts the root node's /Count instead).
	maxDecoded = 512 << 20
	// maxDepth bounds the depth of the page tree.
	maxDepth = 32
)

// errTooMany stops a walk that found more pages than allowed.
var errTooMany = errors.New("too many pages")

// errBudget stops a walk that would cost more than maxDecoded or visit
// more nodes than its budget.
var errBudget = errors.New("page tree too costly to walk")

// errEncryptedStream means an object lies in an object stream of an
// encrypted file, which cannot be read without decrypting it.
var errEncryptedStream = errors.New("the page tree is in encrypted object streams")

// subsection is a run of entries of a cross-reference table.
type subsection struct {
	first, count int64
	off          int64 // file offset of its first entry
	entry        int64 // bytes per entry (20; some writers use 19 or 21)
}

// xrefSection is one cross-reference section: a table or a stream.
type xrefSection struct {
	table []subsection
	// A cross-reference stream:
	stream   bool
	dataOff  int64   // where its compressed data begins
	w        [3]int  // field widths
	index    []int64 // first, count pairs
	flate    bool
	columns  int // with a PNG predictor (> 0), the bytes of a row
	rowBytes int
	rows     int64 // entries listed by /Index
}

// entry is where an object lies.
type entry struct {
	kind byte  // 0 free, 1 in the file, 2 in an object stream
	off  int64 // kind 1
	stm  int64 // kind 2: the object stream's number
	idx  int64 // kind 2: the index in it
}

// doc is an open PDF for counting.
type doc struct {
	ra        io.ReaderAt
	size      int64
	sections  []xrefSection
	subs      int
	root      ref
	hasRoot   bool
	encrypted bool
	objects   int64    // the trailer's /Size
	spent     int64    // bytes decompressed so far
	xref      cache    // decoded cross-reference streams
	objStm    cache    // decoded object streams
	free      []*lexer // lexers to reuse, so a walk allocates no buffer a node
	inflaters []io.ReadCloser
	scratch   []byte // where streams are decoded before being kept
	sweepMax  int64  // what a sweep may read, when not 0 (tests; else twice the size and 32 MiB)
}

// openDoc reads the cross-reference chain from startxref.
func openDoc(ra io.ReaderAt, size int64) (*doc, error) {
	d := &doc{ra: ra, size: size, xref: newCache(xrefCache, xrefCache, false), objStm: newCache(objCache, objStmMax, true)}
	off, err := d.startxref()
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	queue := []int64{off}
	for len(queue) > 0 {
		off := queue[0]
		queue = queue[1:]
		if seen[off] {
			continue
		}
		if len(seen) == maxSections {
			return nil, syntaxf("more than %d cross-reference sections", maxSections)
		}
		seen[off] = true
		more, err := d.readSection(off)
		if err != nil {
			return nil, fmt.Errorf("cross-reference section at byte %d: %w", off, err)
		}
		queue = append(queue, more...)
	}
	if !d.hasRoot {
		return nil, syntaxf("the trailer names no /Root catalog")
	}
	return d, nil
}

// startxref finds the offset of the last cross-reference section.
func (d *doc) startxref() (int64, error) {
	n := min(d.size, 2048)
	tail := make([]byte, n)
	if _, err := d.ra.ReadAt(tail, d.size-n); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return 0, syntaxf("no startxref near the end of the file")
	}
	f := strings.Fields(string(tail[i+len("startxref"):]))
	if len(f) == 0 {
		return 0, syntaxf("startxref without an offset")
	}
	off, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || off < 0 || off >= d.size {
		return 0, syntaxf("startxref offset %q is outside the file", f[0])
	}
	return off, nil
}

// at opens a lexer at a file offset.
func (d *doc) at(off int64) *lexer {
	return d.lexerOn(io.NewSectionReader(d.ra, off, d.size-off))
}

// lexerOn returns a lexer reading r, reusing a released one.
func (d *doc) lexerOn(r io.Reader) *lexer {
	if n := len(d.free); n > 0 {
		l := d.free[n-1]
		d.free = d.free[:n-1]
		l.r.Reset(r)
		l.pos, l.back = 0, l.back[:0]
		return l
	}
	return newLexer(r, bufSize)
}

// release hands a lexer back for reuse.
func (d *doc) release(l *lexer) {
	if len(d.free) < maxDepth+4 {
		d.free = append(d.free, l)
	}
}

// readSection reads the section at off and returns the offsets of the
// older sections it points to.
func (d *doc) readSection(off int64) ([]int64, error) {
	l := d.at(off)
	t, err := l.next()
	if err != nil {
		return nil, err
	}
	if t.kind == tKeyword && t.s == "xref" {
		return d.readTable(l, off)
	}
	l.unread(t)
	return d.readXRefStream(l, off)
}

func (d *doc) readTable(l *lexer, base int64) ([]int64, error) {
	var sec xrefSection
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		if t.kind == tKeyword && t.s == "trailer" {
			break
		}
		if t.kind != tInt {
			return nil, syntaxf("expected a subsection header or trailer at byte %d", base+l.pos)
		}
		c, err := l.next()
		if err != nil {
			return nil, err
		}
		if c.kind != tInt || t.n < 0 || c.n < 0 || c.n > d.size/18 {
			return nil, syntaxf("bad subsection header at byte %d", base+l.pos)
		}
		// The entries begin after the end of the header's line.
		for {
			ch, err := l.readByte()
			if err != nil {
				return nil, eof(err)
			}
			if ch == '\n' {
				break
			}
			if ch == '\r' {
				if ch, err := l.readByte(); err == nil && ch != '\n' {
					l.unreadByte()
				}
				break
			}
			if ch != ' ' && ch != '\t' {
				return nil, syntaxf("bad subsection header at byte %d", base+l.pos)
			}
		}
		s := subsection{first: t.n, count: c.n, off: base + l.pos, entry: 20}
		if c.n > 0 {
			// Measure the first entry: 18 bytes and its line end.
			line := make([]byte, 22)
			n, _ := d.ra.ReadAt(line, s.off)
			line = line[:n]
			e := int64(18)
			for e < int64(len(line)) && (line[e] == ' ' || line[e] == '\r' || line[e] == '\n') {
				e++
			}
			if e < 19 || e > 21 {
				return nil, syntaxf("cross-reference entries of unexpected length at byte %d", s.off)
			}
			s.entry = e
		}
		if d.subs++; d.subs > maxSubsections {
			return nil, syntaxf("more than %d cross-reference subsections", maxSubsections)
		}
		sec.table = append(sec.table, s)
		skip := s.count * s.entry
		next := s.off + skip
		if next > d.size {
			return nil, syntaxf("cross-reference subsection runs past the end of the file")
		}
		l = d.at(next)
		base = next
	}
	d.sections = append(d.sections, sec)
	var more []int64
	err := l.openDict(func(key string) (bool, error) {
		switch key {
		case "Prev", "XRefStm":
			n, err := l.intValue(key)
			if err != nil {
				return true, err
			}
			if n < 0 || n >= d.size {
				return true, syntaxf("/%s %d is outside the file", key, n)
			}
			if key == "XRefStm" {
				more = append([]int64{n}, more...) // before /Prev: same update
			} else {
				more = append(more, n)
			}
			return true, nil
		}
		return d.trailerKey(l, key)
	})
	return more, err
}

// trailerKey reads the trailer entries every section may carry; the
// newest section's values win.
func (d *doc) trailerKey(l *lexer, key string) (bool, error) {
	switch key {
	case "Root":
		r, err := l.refValue(key)
		if err == nil && !d.hasRoot {
			d.root, d.hasRoot = r, true
		}
		return true, err
	case "Encrypt":
		d.encrypted = true
		return false, nil
	case "Size":
		n, err := l.intValue(key)
		if err == nil && d.objects == 0 {
			d.objects = n
		}
		return true, err
	}
	return false, nil
}

// objectHeader reads "num gen obj".
func objectHeader(l *lexer) (int64, error) {
	a, err := l.next()
	if err != nil {
		return 0, err
	}
	b, err := l.next()
	if err != nil {
		return 0, err
	}
	c, err := l.next()
	if err != nil {
		return 0, err
	}
	if a.kind != tInt || b.kind != tInt || c.kind != tKeyword || c.s != "obj" {
		return 0, syntaxf("expected \"N G obj\"")
	}
	return a.n, nil
}

// streamStart reads the "stream" keyword after a stream's dictionary and
// its line end, and returns the data's offset relative to the lexer.
func streamStart(l *lexer) (int64, error) {
	t, err := l.next()
	if err != nil {
		return 0, err
	}
	if t.kind != tKeyword || t.s != "stream" {
		return 0, syntaxf("expected \"stream\"")
	}
	c, err := l.readByte()
	if err != nil {
		return 0, eof(err)
	}
	if c == '\r' {
		if c, err = l.readByte(); err != nil {
			return 0, eof(err)
		}
	}
	if c != '\n' {
		l.unreadByte()
	}
	return l.pos, nil
}

// streamParams are the entries of a stream dictionary the counter uses.
type streamParams struct {
	flate     bool
	filters   int
	predictor int64
	columns   int64
}

func (p *streamParams) key(l *lexer, key string) (bool, error) {
	switch key {
	case "Filter":
		return true, l.array(func(v value) error {
			p.filters++
			if v.kind == tName && (v.s == "FlateDecode" || v.s == "Fl") {
				p.flate = true
			}
			return nil
		})
	case "DecodeParms", "DP":
		t, err := l.next()
		if err != nil {
			return true, err
		}
		if t.kind == tArrOpen {
			// One entry per filter; the counter reads only single-filter
			// streams, so the first dictionary is the one.
			t, err = l.next()
			if err != nil {
				return true, err
			}
			if t.kind != tDictOpen {
				l.unread(t)
				return true, l.skipContainer(tArrOpen)
			}
			if err := p.parms(l); err != nil {
				return true, err
			}
			return true, l.skipContainer(tArrOpen)
		}
		if t.kind == tDictOpen {
			return true, p.parms(l)
		}
		_, err = l.valueFrom(t)
		return true, err
	}
	return false, nil
}

func (p *streamParams) parms(l *lexer) error {
	return l.dict(func(key string) (bool, error) {
		var err error
		switch key {
		case "Predictor":
			p.predictor, err = l.intValue(key)
			return true, err
		case "Columns":
			p.columns, err = l.intValue(key)
			return true, err
		}
		return false, nil
	})
}

// check refuses what the counter cannot decode.
func (p *streamParams) check() error {
	if p.filters > 1 || p.filters == 1 && !p.flate {
		return syntaxf("a stream with filters other than FlateDecode")
	}
	if p.predictor > 1 && p.predictor < 10 {
		return syntaxf("a TIFF predictor in a cross-reference or object stream")
	}
	if p.predictor >= 10 && (p.columns <= 0 || p.columns > 1<<16) {
		return syntaxf("predictor with /Columns %d", p.columns)
	}
	return nil
}

func (d *doc) readXRefStream(l *lexer, base int64) ([]int64, error) {
	if _, err := objectHeader(l); err != nil {
		return nil, err
	}
	var sec xrefSection
	sec.stream = true
	var p streamParams
	var more []int64
	isXRef := false
	gotW := 0
	size := int64(-1)
	err := l.openDict(func(key string) (bool, error) {
		switch key {
		case "Type":
			v, err := l.parseValue()
			isXRef = v.kind == tName && v.s == "XRef"
			return true, err
		case "W":
			return true, l.array(func(v value) error {
				if v.kind != tInt || v.isRef || v.n < 0 || v.n > 8 || gotW == 3 {
					return syntaxf("bad /W in a cross-reference stream")
				}
				sec.w[gotW] = int(v.n)
				gotW++
				return nil
			})
		case "Index":
			return true, l.array(func(v value) error {
				if v.kind != tInt || v.isRef || v.n < 0 {
					return syntaxf("bad /Index in a cross-reference stream")
				}
				if d.subs++; d.subs > 2*maxSubsections {
					return syntaxf("more than %d cross-reference subsections", maxSubsections)
				}
				sec.index = append(sec.index, v.n)
				return nil
			})
		case "Prev":
			n, err := l.intValue(key)
			if err == nil && (n < 0 || n >= d.size) {
				err = syntaxf("/Prev %d is outside the file", n)
			}
			more = append(more, n)
			return true, err
		case "Size":
			n, err := l.intValue(key)
			size = n
			if err == nil && d.objects == 0 {
				d.objects = n
			}
			return true, err
		}
		if ok, err := p.key(l, key); ok || err != nil {
			return ok, err
		}
		return d.trailerKey(l, key)
	})
	if err != nil {
		return nil, err
	}
	if !isXRef {
		return nil, syntaxf("not a cross-reference table or stream")
	}
	if gotW != 3 || sec.w[0]+sec.w[1]+sec.w[2] == 0 {
		return nil, syntaxf("a cross-reference stream without a valid /W")
	}
	if sec.index == nil {
		if size < 0 {
			return nil, syntaxf("a cross-reference stream without /Size")
		}
		sec.index = []int64{0, size}
	}
	if len(sec.index)%2 != 0 {
		return nil, syntaxf("an odd /Index in a cross-reference stream")
	}
	for i := 1; i < len(sec.index); i += 2 {
		if sec.rows += sec.index[i]; sec.rows > d.size {
			return nil, syntaxf("a cross-reference stream lists more objects than the file has bytes")
		}
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	start, err := streamStart(l)
	if err != nil {
		return nil, err
	}
	sec.dataOff = base + start
	sec.flate = p.flate
	sec.rowBytes = sec.w[0] + sec.w[1] + sec.w[2]
	if p.predictor >= 10 {
		sec.columns = int(p.columns)
		if sec.columns != sec.rowBytes {
			return nil, syntaxf("predictor /Columns %d differs from the row of %d bytes", sec.columns, sec.rowBytes)
		}
	}
	d.sections = append(d.sections, sec)
	return more, nil
}

// decodedReader opens the decoded data of a stream beginning at off; done
// hands its decompressor back for reuse.
func (d *doc) decodedReader(off int64, flate bool) (r io.Reader, done func(), err error) {
	raw := io.NewSectionReader(d.ra, off, d.size-off)
	if !flate {
		return &counting{r: raw, d: d}, func() {}, nil
	}
	var z io.ReadCloser
	if n := len(d.inflaters); n > 0 {
		z = d.inflaters[n-1]
		d.inflaters = d.inflaters[:n-1]
		err = z.(zlib.Resetter).Reset(raw, nil)
	} else {
		z, err = zlib.NewReader(raw)
	}
	if err != nil {
		return nil, nil, syntaxf("a stream is not valid Flate data: %v", err)
	}
	return &counting{r: z, d: d}, func() {
		if len(d.inflaters) < maxDepth+4 {
			d.inflaters = append(d.inflaters, z)
		}
	}, nil
}

// counting charges the bytes read to the count's decode budget.
type counting struct {
	r io.Reader
	d *doc
}

func (c *counting) Read(p []byte) (int, error) {
	if c.d.spent > maxDecoded {
		return 0, errBudget
	}
	n, err := c.r.Read(p)
	c.d.spent += int64(n)
	return n, err
}

// cache holds decoded streams up to a budget.
type cache struct {
	budget, most int // bytes in all, bytes of one stream
	evict        bool
	used         int
	data         map[int64][]byte
	order        []int64 // oldest first
	tooBig       map[int64]bool
}

func newCache(budget, most int, evict bool) cache {
	return cache{budget: budget, most: most, evict: evict, data: map[int64][]byte{}, tooBig: map[int64]bool{}}
}

// decoded returns the decoded bytes of the stream whose data begins at
// off from the cache c, or decodes and keeps them when they fit (after
// post, which may rework them in place); nil (without error) when they do
// not fit.
// When the decoded size is known (expect >= 0), exactly that much is read.
func (d *doc) decoded(c *cache, off int64, flate bool, expect int64, post func([]byte) error) ([]byte, error) {
	if b, ok := c.data[off]; ok {
		return b, nil
	}
	if c.tooBig[off] || !c.evict && c.used >= c.budget {
		return nil, nil
	}
	r, done, err := d.decodedReader(off, flate)
	if err != nil {
		return nil, err
	}
	defer done()
	room := c.most
	if !c.evict {
		room = min(room, c.budget-c.used)
	}
	buf := d.scratch
	switch {
	case expect > int64(room):
		if len(c.tooBig) < 1024 {
			c.tooBig[off] = true
		}
		return nil, nil
	case expect >= 0:
		buf = make([]byte, expect)
	case cap(buf) < room+1:
		d.scratch = make([]byte, room+1)
		buf = d.scratch
	}
	n, err := io.ReadFull(r, buf[:min(int64(room)+1, int64(cap(buf)))])
	if errors.Is(err, errBudget) {
		return nil, err
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, syntaxf("a stream cannot be decoded: %v", err)
	}
	if n > room {
		if len(c.tooBig) < 1024 {
			c.tooBig[off] = true
		}
		return nil, nil
	}
	b := buf[:n]
	if expect < 0 {
		b = append([]byte(nil), buf[:n]...)
	} else if int64(n) != expect {
		return nil, syntaxf("a stream decodes to %d bytes where %d were expected", n, expect)
	}
	if post != nil {
		if err := post(b); err != nil {
			return nil, err
		}
	}
	for c.used+len(b) > c.budget && len(c.order) > 0 {
		c.used -= len(c.data[c.order[0]])
		delete(c.data, c.order[0])
		c.order = c.order[1:]
	}
	c.data[off] = b
	c.used += len(b)
	c.order = append(c.order, off)
	return b, nil
}

// lookup finds where object num lies; the newest section that lists it
// wins.
func (d *doc) lookup(num int64) (entry, error) {
	for si := range d.sections {
		s := &d.sections[si]
		if !s.stream {
			for _, sub := range s.table {
				if num < sub.first || num >= sub.first+sub.count {
					continue
				}
				line := make([]byte, 18)
				if _, err := d.ra.ReadAt(line, sub.off+(num-sub.first)*sub.entry); err != nil {
					return entry{}, syntaxf("cannot read the cross-reference entry of object %d", num)
				}
				f := strings.Fields(string(line))
				if len(f) != 3 {
					return entry{}, syntaxf("bad cross-reference entry for object %d", num)
				}
				if f[2] == "f" {
					return entry{}, nil
				}
				off, err := strconv.ParseInt(f[0], 10, 64)
				if err != nil || f[2] != "n" || off < 0 || off >= d.size {
					return entry{}, syntaxf("bad cross-reference entry for object %d", num)
				}
				return entry{kind: 1, off: off}, nil
			}
			continue
		}
		row := int64(-1)
		var before int64
		for i := 0; i+1 < len(s.index); i += 2 {
			if num >= s.index[i] && num < s.index[i]+s.index[i+1] {
				row = before + num - s.index[i]
				break
			}
			before += s.index[i+1]
		}
		if row < 0 {
			continue
		}
		rb, err := d.xrefRow(si, row)
		if err != nil {
			return entry{}, err
		}
		field := func(k int, from int) int64 {
			var v int64
			for _, c := range rb[from : from+s.w[k]] {
				v = v<<8 | int64(c)
			}
			return v
		}
		kind := int64(1) // a missing type field means 1
		if s.w[0] > 0 {
			kind = field(0, 0)
		}
		f2, f3 := field(1, s.w[0]), field(2, s.w[0]+s.w[1])
		switch kind {
		case 0:
			return entry{}, nil
		case 1:
			if f2 < 0 || f2 >= d.size {
				return entry{}, syntaxf("object %d's offset %d is outside the file", num, f2)
			}
			return entry{kind: 1, off: f2}, nil
		case 2:
			return entry{kind: 2, stm: f2, idx: f3}, nil
		}
		return entry{}, nil // unknown types are null objects
	}
	return entry{}, nil // not listed: a null object
}

// xrefRow returns row of cross-reference stream section si, decoded.
func (d *doc) xrefRow(si int, row int64) ([]byte, error) {
	s := &d.sections[si]
	stride := int64(s.rowBytes)
	if s.columns > 0 {
		stride++ // the predictor's tag byte
	}
	var post func([]byte) error
	if s.columns > 0 {
		// Undo the predictor once, in place: each row then stands alone.
		post = func(b []byte) error {
			prev := make([]byte, stride)
			for i := int64(0); (i+1)*stride <= int64(len(b)); i++ {
				cur := b[i*stride : (i+1)*stride]
				if err := unpredict(cur, prev); err != nil {
					return err
				}
				prev = cur
			}
			return nil
		}
	}
	if b, err := d.decoded(&d.xref, s.dataOff, s.flate, s.rows*stride, post); err != nil {
		return nil, err
	} else if b != nil {
		if (row+1)*stride > int64(len(b)) {
			return nil, syntaxf("the cross-reference stream ends before row %d", row)
		}
		r := b[row*stride : (row+1)*stride]
		if s.columns > 0 {
			r = r[1:]
		}
		return r, nil
	}
	// Too large to keep: decode again up to the row.
	r, done, err := d.decodedReader(s.dataOff, s.flate)
	if err != nil {
		return nil, err
	}
	defer done()
	cur := make([]byte, stride)
	prev := make([]byte, stride)
	for i := int64(0); i <= row; i++ {
		if _, err := io.ReadFull(r, cur); err != nil {
			if errors.Is(err, errBudget) {
				return nil, err
			}
			return nil, syntaxf("the cross-reference stream ends before row %d", row)
		}
		if s.columns > 0 {
			if err := unpredict(cur, prev); err != nil {
				return nil, err
			}
		}
		cur, prev = prev, cur
	}
	if s.columns > 0 {
		return prev[1:], nil
	}
	return prev, nil
}

// unpredict undoes a PNG predictor on one row (tag byte first, one byte a
// pixel), given the row above already undone.
func unpredict(cur, prev []byte) error {
	tag := cur[0]
	for i := 1; i < len(cur); i++ {
		var left, up, upLeft byte
		if i > 1 {
			left, upLeft = cur[i-1], prev[i-1]
		}
		up = prev[i]
		switch tag {
		case 0:
		case 1:
			cur[i] += left
		case 2:
			cur[i] += up
		case 3:
			cur[i] += byte((int(left) + int(up)) / 2)
		case 4:
			cur[i] += paeth(left, up, upLeft)
		default:
			return syntaxf("unknown PNG predictor %d", tag)
		}
	}
	return nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// object opens object num and returns a lexer positioned at its value,
// and a function to release it.
func (d *doc) object(num int64, depth int) (*lexer, func(), error) {
	if depth > 4 {
		return nil, nil, syntaxf("object %d: references nested too deep", num)
	}
	e, err := d.lookup(num)
	if err != nil {
		return nil, nil, err
	}
	switch e.kind {
	case 0:
		return nil, nil, syntaxf("object %d is missing (free or not listed)", num)
	case 1:
		l := d.at(e.off)
		n, err := objectHeader(l)
		if err != nil {
			return nil, nil, fmt.Errorf("object %d at byte %d: %w", num, e.off, err)
		}
		if n != num {
			return nil, nil, syntaxf("the cross-reference says object %d is at byte %d, but object %d is there", num, e.off, n)
		}
		return l, func() { d.release(l) }, nil
	}
	if d.encrypted {
		return nil, nil, errEncryptedStream
	}
	return d.inStream(num, e, depth)
}

// inStream opens object num, the idx-th of object stream e.stm.
func (d *doc) inStream(num int64, e entry, depth int) (*lexer, func(), error) {
	se, err := d.lookup(e.stm)
	if err != nil {
		return nil, nil, err
	}
	if se.kind != 1 {
		return nil, nil, syntaxf("object stream %d of object %d is not in the file", e.stm, num)
	}
	l := d.at(se.off)
	if n, err := objectHeader(l); err != nil || n != e.stm {
		return nil, nil, syntaxf("object stream %d is not at byte %d", e.stm, se.off)
	}
	var p streamParams
	var count, first int64 = -1, -1
	err = l.openDict(func(key string) (bool, error) {
		var err error
		switch key {
		case "N":
			count, err = l.intValue(key)
			return true, err
		case "First":
			first, err = l.intValue(key)
			return true, err
		}
		return p.key(l, key)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("object stream %d: %w", e.stm, err)
	}
	if err := p.check(); err != nil {
		return nil, nil, err
	}
	if p.predictor != 0 && p.predictor != 1 {
		return nil, nil, syntaxf("object stream %d uses a predictor", e.stm)
	}
	if count < 0 || first < 0 || e.idx >= count {
		return nil, nil, syntaxf("object stream %d has no object %d", e.stm, e.idx)
	}
	start, err := streamStart(l)
	if err != nil {
		return nil, nil, err
	}
	d.release(l)
	dataOff := se.off + start
	var r io.Reader
	done := func() {}
	if b, err := d.decoded(&d.objStm, dataOff, p.flate, -1, nil); err != nil {
		return nil, nil, err
	} else if b != nil {
		r = bytes.NewReader(b)
	} else if r, done, err = d.decodedReader(dataOff, p.flate); err != nil {
		return nil, nil, err
	}
	sl := d.lexerOn(r)
	closeStream := done
	done = func() { closeStream(); d.release(sl) }
	var off int64 = -1
	for i := int64(0); i <= e.idx; i++ {
		a, err := sl.next()
		if err != nil {
			done()
			return nil, nil, err
		}
		b, err := sl.next()
		if err != nil {
			done()
			return nil, nil, err
		}
		if a.kind != tInt || b.kind != tInt {
			done()
			return nil, nil, syntaxf("object stream %d has a bad header", e.stm)
		}
		if i == e.idx {
			if a.n != num {
				done()
				return nil, nil, syntaxf("object stream %d holds object %d where object %d was expected", e.stm, a.n, num)
			}
			off = b.n
		}
	}
	if at := first + off; at < sl.pos {
		done()
		return nil, nil, syntaxf("object stream %d has a bad offset", e.stm)
	} else if err := sl.discard(at - sl.pos); err != nil {
		done()
		if errors.Is(err, errBudget) {
			return nil, nil, err
		}
		return nil, nil, syntaxf("object stream %d ends early", e.stm)
	}
	return sl, done, nil
}

// intAt resolves an integer that may be given by reference.
func (d *doc) intAt(l *lexer, key string) (int64, error) {
	v, err := l.parseValue()
	if err != nil {
		return 0, err
	}
	if !v.isRef {
		if v.kind != tInt {
			return 0, syntaxf("/%s is not an integer", key)
		}
		return v.n, nil
	}
	ol, done, err := d.object(v.ref.num, 1)
	if err != nil {
		return 0, err
	}
	defer done()
	return ol.intValue(key)
}

// pagesRoot returns the root Pages node's object number and its /Count.
func (d *doc) pagesRoot() (int64, int64, error) {
	l, done, err := d.object(d.root.num, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("catalog: %w", err)
	}
	var pages ref
	found := false
	err = l.openDict(func(key string) (bool, error) {
		if key != "Pages" {
			return false, nil
		}
		r, err := l.refValue(key)
		pages, found = r, err == nil
		return true, err
	})
	done()
	if err != nil {
		return 0, 0, fmt.Errorf("catalog: %w", err)
	}
	if !found {
		return 0, 0, syntaxf("the catalog has no /Pages")
	}
	l, done, err = d.object(pages.num, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("page tree root: %w", err)
	}
	defer done()
	count := int64(-1)
	err = l.openDict(func(key string) (bool, error) {
		if key != "Count" {
			return false, nil
		}
		n, err := d.intAt(l, key)
		count = n
		return true, err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("page tree root: %w", err)
	}
	if count < 0 {
		return 0, 0, syntaxf("the page tree's root has no /Count")
	}
	return pages.num, count, nil
}

// walk counts the leaves (pages) under node num, failing with errTooMany
// past limit and errBudget past the node budget. On the way it notes the
// first page-tree entry of the wrong kind (see odd), which the sweep
// reports.
type walk struct {
	d      *doc
	limit  int64
	pages  int64
	budget int64 // nodes still allowed
	odd    error // the first entry pdfcpu's validation would refuse
}

// note keeps the first finding.
func (w *walk) note(format string, args ...any) {
	if w.odd == nil {
		w.odd = syntaxf(format, args...)
	}
}

// node walks node num, a kid of parent (-1 for the root); it returns how
// many pages under it have no /MediaBox of their own or from a node up to
// num (a page inherits it from its ancestors).
func (w *walk) node(num, parent int64, depth int) (int64, error) {
	if depth > maxDepth {
		return 0, syntaxf("the page tree is deeper than %d levels (or loops)", maxDepth)
	}
	if w.budget--; w.budget < 0 {
		return 0, errBudget
	}
	l, done, err := w.d.object(num, 0)
	if err != nil {
		return 0, err
	}
	defer done()
	hasKids, isPages, hasBox, hasParent := false, false, false, false
	var noBox int64
	err = l.openDict(func(key string) (bool, error) {
		switch key {
		case "Type":
			v, err := l.parseValue()
			isPages = v.kind == tName && v.s == "Pages"
			if err == nil && !isPages && (v.kind != tName || v.s != "Page") {
				w.note("page tree node %d has a /Type that is neither /Pages nor /Page", num)
			}
			return true, err
		case "Kids":
			hasKids = true
			return true, l.array(func(v value) error {
				if !v.isRef {
					return syntaxf("a /Kids entry of object %d is not a reference", num)
				}
				n, err := w.node(v.ref.num, num, depth+1)
				noBox += n
				return err
			})
		case "Parent":
			v, err := l.parseValue()
			hasParent = true
			if err == nil && (!v.isRef || v.ref.num != parent) {
				w.note("page tree node %d's /Parent is not node %d, whose kid it is", num, parent)
			}
			return true, err
		case "MediaBox":
			v, err := l.parseValue()
			hasBox = true
			if err == nil && v.kind != tArrOpen && !v.isRef {
				w.note("page tree node %d's /MediaBox is not an array", num)
			}
			return true, err
		case "Resources":
			v, err := l.parseValue()
			if err == nil && v.kind != tDictOpen && !v.isRef {
				w.note("page tree node %d's /Resources is not a dictionary", num)
			}
			return true, err
		case "Contents", "Annots":
			v, err := l.parseValue()
			if err == nil && v.kind != tArrOpen && !v.isRef {
				w.note("page %d's /%s is neither an array nor a reference", num, key)
			}
			return true, err
		}
		return false, nil
	})
	if err != nil {
		return 0, err
	}
	if parent >= 0 && !hasParent {
		w.note("page tree node %d has no /Parent", num)
	}
	if !hasKids && !isPages {
		noBox = 1
		if w.pages++; w.pages > w.limit {
			return 0, errTooMany
		}
	}
	if hasBox {
		noBox = 0
	}
	return noBox, nil
}

// pageCount is what the counter learnt.
type pageCount struct {
	pages     int64 // the root's /Count, checked by a walk when affordable
	walked    bool  // the walk went through the whole tree
	objects   int64 // the trailer's /Size
	encrypted bool
	doc       *doc  // the file as the counter read it, for the sweep
	odd       error // the first page-tree entry of the wrong kind (when walked)
}

// countPages counts the pages of the PDF in ra. With limit > 0, a file
// with more than limit pages fails with errTooMany and pages set to what
// its root node claims (or limit+1 when that claim was lower).
func countPages(ra io.ReaderAt, size int64, limit int64) (pc pageCount, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = syntaxf("the page counter failed: %v", r)
		}
	}()
	d, err := openDoc(ra, size)
	if err != nil {
		return pageCount{}, err
	}
	pc = pageCount{objects: d.objects, encrypted: d.encrypted, doc: d}
	root, count, err := d.pagesRoot()
	if err != nil {
		return pc, err
	}
	pc.pages = count
	if limit > 0 && count > limit {
		return pc, errTooMany
	}
	// Walk the tree to check the claim, as far as a file this size can
	// honestly need: pages+nodes, each read once.
	wl := limit
	if wl <= 0 {
		wl = count
	}
	w := &walk{d: d, limit: wl, budget: 2*wl + 1024}
	noBox, err := w.node(root, -1, 0)
	switch {
	case errors.Is(err, errTooMany) && limit <= 0:
		return pc, syntaxf("the page tree holds more pages than its root's /Count of %d", count)
	case errors.Is(err, errTooMany):
		pc.pages = max(count, wl+1)
		return pc, errTooMany
	case errors.Is(err, errBudget):
		return pc, nil // too costly to check: the root's claim stands
	case err != nil:
		return pc, fmt.Errorf("page tree: %w", err)
	}
	if w.pages != count {
		return pc, syntaxf("the page tree's root says %d pages but the tree holds %d", count, w.pages)
	}
	pc.walked = true
	pc.odd = w.odd
	if noBox > 0 && pc.odd == nil {
		pc.odd = syntaxf("%d of the %d pages have no /MediaBox, of their own or inherited", noBox, w.pages)
	}
	return pc, nil
}
