// Package pdftest writes minimal, valid PDFs of any number of pages for
// tests: a page tree of empty pages, quickly and in a few bytes a page, with
// a classic cross-reference table or, compressed, object streams and a
// cross-reference stream.
package pdftest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Options shape the file.
type Options struct {
	// Fanout is how many kids a page tree node holds; 0 puts every page
	// directly under the root Pages node (a flat tree).
	Fanout int
	// Compressed puts the pages and tree nodes in object streams of 100
	// objects and writes a cross-reference stream (with the PNG Up
	// predictor, as most writers do) instead of a table.
	Compressed bool
	// Count, when not 0, is written as the root node's /Count instead of
	// the true number of pages: a page tree that lies.
	Count int
}

// node is one page tree object: a Pages node or a page.
type node struct {
	kids   []int // object numbers (nil for a page)
	parent int
	count  int
}

// PDF returns a document of pages empty pages.
func PDF(pages int, o Options) []byte {
	// Object 1 is the catalog, 2 the root Pages node, then the pages, then
	// the intermediate nodes.
	// nodes[num] for every object but the catalog; pages get 3…pages+2.
	nodes := make([]*node, pages+3, pages+3+pages/max(o.Fanout-1, 1)+1)
	nodes[2] = &node{}
	level := make([]int, pages)
	next := 3
	for i := range level {
		level[i] = next
		nodes[next] = &node{count: 1}
		next++
	}
	for o.Fanout > 0 && len(level) > o.Fanout {
		var up []int
		for i := 0; i < len(level); i += o.Fanout {
			kids := level[i:min(i+o.Fanout, len(level))]
			n := &node{kids: kids}
			for _, k := range kids {
				nodes[k].parent = next
				n.count += nodes[k].count
			}
			nodes = append(nodes, n)
			up = append(up, next)
			next++
		}
		level = up
	}
	root := nodes[2]
	root.kids = level
	for _, k := range level {
		nodes[k].parent = 2
		root.count += nodes[k].count
	}
	if o.Count != 0 {
		root.count = o.Count
	}
	body := func(b *bytes.Buffer, num int) {
		if num == 1 {
			b.WriteString("<</Type/Catalog/Pages 2 0 R>>")
			return
		}
		n := nodes[num]
		if n.kids == nil {
			b.WriteString("<</Type/Page/Parent ")
			b.WriteString(strconv.Itoa(n.parent))
			b.WriteString(" 0 R/MediaBox[0 0 612 792]/Resources<<>>>>")
			return
		}
		b.WriteString("<</Type/Pages")
		if num != 2 {
			fmt.Fprintf(b, "/Parent %d 0 R", n.parent)
		}
		b.WriteString("/Kids[")
		for i, k := range n.kids {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.Itoa(k))
			b.WriteString(" 0 R")
		}
		fmt.Fprintf(b, "]/Count %d>>", n.count)
	}
	objects := next - 1
	var out bytes.Buffer
	out.Grow(120 * objects)
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	if !o.Compressed {
		offsets := make([]int, objects+1)
		for num := 1; num <= objects; num++ {
			offsets[num] = out.Len()
			out.WriteString(strconv.Itoa(num))
			out.WriteString(" 0 obj\n")
			body(&out, num)
			out.WriteString("\nendobj\n")
		}
		xref := out.Len()
		fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", objects+1)
		for num := 1; num <= objects; num++ {
			off := strconv.Itoa(offsets[num])
			out.WriteString("0000000000"[len(off):])
			out.WriteString(off)
			out.WriteString(" 00000 n \n")
		}
		fmt.Fprintf(&out, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", objects+1, xref)
		return out.Bytes()
	}
	// Compressed: the catalog stays a plain object; everything else goes
	// into object streams of 100, numbered after the tree.
	type entry struct {
		kind   byte
		field2 int // offset, or the object stream's number
		field3 int // index in the object stream
	}
	entries := make([]entry, objects+1)
	entries[1].kind = 1
	entries[1].field2 = out.Len()
	out.WriteString("1 0 obj\n")
	body(&out, 1)
	out.WriteString("\nendobj\n")
	stm := objects + 1
	for first := 2; first <= objects; first += 100 {
		last := min(first+99, objects)
		var head, data bytes.Buffer
		for num := first; num <= last; num++ {
			head.WriteString(strconv.Itoa(num))
			head.WriteByte(' ')
			head.WriteString(strconv.Itoa(data.Len()))
			head.WriteByte(' ')
			body(&data, num)
			data.WriteByte('\n')
			entries[num] = entry{2, stm, num - first}
		}
		z := deflate(append(head.Bytes(), data.Bytes()...))
		entries = append(entries, entry{1, out.Len(), 0})
		fmt.Fprintf(&out, "%d 0 obj\n<</Type/ObjStm/N %d/First %d/Filter/FlateDecode/Length %d>>\nstream\n", stm, last-first+1, head.Len(), len(z))
		out.Write(z)
		out.WriteString("\nendstream\nendobj\n")
		stm++
	}
	xrefNum := stm
	entries = append(entries, entry{1, out.Len(), 0})
	// Rows of 1+4+2 bytes, each behind a PNG Up predictor tag.
	const cols = 7
	var rows bytes.Buffer
	prev := make([]byte, cols)
	for i, e := range entries {
		row := make([]byte, cols)
		switch {
		case i == 0: // the head of the free list: type 0, generation 65535
			row[5], row[6] = 0xff, 0xff
		default:
			row[0] = e.kind
			binary.BigEndian.PutUint32(row[1:5], uint32(e.field2))
			binary.BigEndian.PutUint16(row[5:7], uint16(e.field3))
		}
		rows.WriteByte(2)
		for j := range row {
			rows.WriteByte(row[j] - prev[j])
		}
		prev = row
	}
	z := deflate(rows.Bytes())
	xref := entries[xrefNum].field2
	fmt.Fprintf(&out, "%d 0 obj\n<</Type/XRef/Size %d/W[1 4 2]/Root 1 0 R/Filter/FlateDecode/DecodeParms<</Predictor 12/Columns %d>>/Length %d>>\nstream\n",
		xrefNum, len(entries), cols, len(z))
	out.Write(z)
	fmt.Fprintf(&out, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xref)
	return out.Bytes()
}

func deflate(b []byte) []byte {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	_, _ = w.Write(b)
	_ = w.Close()
	return z.Bytes()
}

// OnePage is a one-page PDF with a cross-reference table whose page object
// (3) is page, written as given (sound or not); root adds entries to the
// root Pages node.
func OnePage(page string, root ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	var offs []int
	for i, o := range []string{"<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1" + strings.Join(root, "") + ">>", page} {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	b.WriteString("xref\n0 4\n0000000000 65535 f \n")
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size 4/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", x)
	return b.Bytes()
}
