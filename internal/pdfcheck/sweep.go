package pdfcheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// The structural sweep: for a file the page counter read (its
// cross-reference chain, catalog and whole page tree), a check of every
// object the cross-reference sections list, done through the counter's own
// reader: a few small reads an object, never the file whole, never a
// stream's data. It looks for the damage pdfcpu's full read looks for in
// the structure of a file (objects that are not where the cross-reference
// says, streams whose /Length does not end at endstream, entries pointing
// into object streams that do not exist), so that pdfcpu, which loads
// every stream's bytes, need only run on the few files where it finds some.

// maxSweepObjects bounds the objects swept (the trailer's /Size); judge
// sweeps only files of at most deepCheckObjects.
const maxSweepObjects = deepCheckObjects

// endstreamSlack is how many white-space bytes may lie between a stream's
// data, as its /Length measures it, and "endstream": the end-of-line
// marker writers put there (CR, LF or CR LF), and a few spaces.
const endstreamSlack = 4

// sweep checks every object listed by the cross-reference sections the
// counter read (the newest section's entry wins):
//   - an object in the file (kind 1) begins with "N G obj" at its offset,
//     N its number;
//   - a stream's /Length, direct or an indirect integer, ends its data at
//     "endstream" (after at most endstreamSlack bytes of white space);
//   - an object in an object stream (kind 2) points to an object of the
//     file that is an object stream (/Type /ObjStm) with more than its
//     index objects (/N).
//
// It reads the header and the dictionary of each object through one 4 KiB
// buffer, and a few bytes where each stream ends.
func (d *doc) sweep() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = syntaxf("the structure check failed: %v", r)
		}
	}()
	if d.objects > maxSweepObjects {
		return syntaxf("the trailer's /Size of %d is more than the %d objects swept", d.objects, maxSweepObjects)
	}
	if d.objects <= 0 {
		return syntaxf("the trailer has no /Size")
	}
	if n := d.listed(); n > d.objects {
		return syntaxf("the cross-reference lists objects up to %d, beyond the trailer's /Size of %d", n-1, d.objects)
	}
	// Objects may overlap, or lie at the same offset: bound what is read.
	budget := &sweepBudget{left: 2*d.size + 32<<20}
	if d.sweepMax > 0 {
		budget.left = d.sweepMax
	}
	objStm := map[int64]int64{} // object stream number -> its /N
	type packed struct{ num, stm, idx int64 }
	var inStreams []packed
	for num := int64(0); num < d.objects; num++ {
		e, err := d.lookup(num)
		if err != nil {
			return err
		}
		switch e.kind {
		case 1:
			n, err := d.sweepObject(num, e.off, budget)
			if err != nil {
				return err
			}
			if n >= 0 {
				objStm[num] = n
			}
		case 2:
			inStreams = append(inStreams, packed{num, e.stm, e.idx})
		}
	}
	for _, p := range inStreams {
		n, ok := objStm[p.stm]
		switch {
		case !ok:
			return syntaxf("the cross-reference puts object %d in object stream %d, which is not an object stream of the file", p.num, p.stm)
		case p.idx < 0 || p.idx >= n:
			return syntaxf("the cross-reference puts object %d at index %d of object stream %d, which holds %d objects", p.num, p.idx, p.stm, n)
		}
	}
	return nil
}

// sweepObject checks the object num the cross-reference places at off; it
// returns the object's /N when it is an object stream, else -1.
func (d *doc) sweepObject(num, off int64, budget *sweepBudget) (int64, error) {
	l := d.lexerOn(&budgeted{r: io.NewSectionReader(d.ra, off, d.size-off), b: budget})
	defer d.release(l)
	n, err := objectHeader(l)
	if err != nil {
		return -1, fmt.Errorf("object %d at byte %d: %w", num, off, err)
	}
	if n != num {
		return -1, syntaxf("the cross-reference says object %d is at byte %d, but object %d is there", num, off, n)
	}
	t, err := l.next()
	if err != nil {
		return -1, fmt.Errorf("object %d at byte %d: %w", num, off, err)
	}
	if t.kind != tDictOpen {
		return -1, nil // not a dictionary, so not a stream
	}
	var length value
	hasLength, isObjStm := false, false
	count := int64(-1)
	err = l.dict(func(key string) (bool, error) {
		var err error
		switch key {
		case "Length":
			length, err = l.parseValue()
			hasLength = true
			return true, err
		case "Type":
			v, err := l.parseValue()
			isObjStm = v.kind == tName && v.s == "ObjStm"
			return true, err
		case "N":
			v, err := l.parseValue()
			if v.kind == tInt && !v.isRef {
				count = v.n
			}
			return true, err
		}
		return false, nil
	})
	if err != nil {
		return -1, fmt.Errorf("object %d at byte %d: %w", num, off, err)
	}
	t, err = l.next()
	if err != nil {
		return -1, fmt.Errorf("object %d at byte %d: %w", num, off, err)
	}
	if t.kind != tKeyword || t.s != "stream" {
		return -1, nil // a dictionary
	}
	l.unread(t)
	start, err := streamStart(l)
	if err != nil {
		return -1, fmt.Errorf("object %d at byte %d: %w", num, off, err)
	}
	if !hasLength {
		return -1, syntaxf("stream object %d at byte %d has no /Length", num, off)
	}
	n, err = d.length(length)
	if err != nil {
		return -1, fmt.Errorf("stream object %d at byte %d: %w", num, off, err)
	}
	if err := d.endstreamAt(off+start+n, num, n); err != nil {
		return -1, err
	}
	if !isObjStm {
		return -1, nil
	}
	return max(count, 0), nil
}

// length resolves a stream's /Length: a direct integer or a reference to
// one.
func (d *doc) length(v value) (int64, error) {
	n := v.n
	if v.isRef {
		l, done, err := d.object(v.ref.num, 1)
		if err != nil {
			return 0, fmt.Errorf("its /Length: %w", err)
		}
		n, err = l.intValue("Length")
		done()
		if err != nil {
			return 0, err
		}
	} else if v.kind != tInt {
		return 0, syntaxf("its /Length is not an integer")
	}
	if n < 0 {
		return 0, syntaxf("its /Length %d is negative", n)
	}
	return n, nil
}

// endstreamAt checks that the data of stream num, n bytes, is followed at
// end by "endstream", after at most endstreamSlack white-space bytes.
func (d *doc) endstreamAt(end, num, n int64) error {
	if end > d.size {
		return syntaxf("stream object %d's /Length of %d bytes runs past the end of the file", num, n)
	}
	var buf [endstreamSlack + len("endstream")]byte
	k, _ := d.ra.ReadAt(buf[:], end)
	b := buf[:k]
	for i := 0; i < endstreamSlack && len(b) > 0 && isSpace(b[0]); i++ {
		b = b[1:]
	}
	if !bytes.HasPrefix(b, []byte("endstream")) {
		return syntaxf("stream object %d's data, %d bytes by its /Length, is not followed by endstream at byte %d", num, n, end)
	}
	return nil
}

// listed is one more than the largest object number the cross-reference
// sections list.
func (d *doc) listed() int64 {
	var n int64
	for _, s := range d.sections {
		for _, sub := range s.table {
			n = max(n, sub.first+sub.count)
		}
		for i := 0; i+1 < len(s.index); i += 2 {
			n = max(n, s.index[i]+s.index[i+1])
		}
	}
	return n
}

// errSweepBudget stops a sweep that would read more than its budget.
var errSweepBudget = errors.New("the objects overlap too much to be checked in small reads")

// sweepBudget is what a sweep may still read.
type sweepBudget struct{ left int64 }

// budgeted charges what is read through it to a sweep's budget.
type budgeted struct {
	r io.Reader
	b *sweepBudget
}

func (r *budgeted) Read(p []byte) (int, error) {
	if r.b.left <= 0 {
		return 0, errSweepBudget
	}
	n, err := r.r.Read(p[:min(int64(len(p)), r.b.left)])
	r.b.left -= int64(n)
	return n, err
}
