package store

import (
	"container/heap"
	"slices"

	"github.com/ppsync/ppsync/internal/control"
)

// selection keeps the first n rows of an order among the rows offered to
// it, in memory for n rows whatever their number: a heap whose top is the
// last of the rows kept.
type selection struct {
	n, off int
	order  func(a, b row) int
	kept   []row
}

// pageOf selects the rows of the page at off of limit rows (limit <= 0:
// every row from off on) in order.
func pageOf(off, limit int, order func(a, b row) int) *selection {
	off = max(off, 0)
	n := -1
	if limit > 0 {
		n = off + limit
	}
	return &selection{n: n, off: off, order: order}
}

func (s *selection) Len() int           { return len(s.kept) }
func (s *selection) Less(i, j int) bool { return s.order(s.kept[i], s.kept[j]) > 0 }
func (s *selection) Swap(i, j int)      { s.kept[i], s.kept[j] = s.kept[j], s.kept[i] }
func (s *selection) Push(x any)         { s.kept = append(s.kept, x.(row)) }
func (s *selection) Pop() any {
	r := s.kept[len(s.kept)-1]
	s.kept = s.kept[:len(s.kept)-1]
	return r
}

// offer considers a row for the page.
func (s *selection) offer(r row) {
	switch {
	case s.n < 0:
		s.kept = append(s.kept, r)
	case s.n == 0:
	case len(s.kept) < s.n:
		heap.Push(s, r)
	case s.order(r, s.kept[0]) < 0:
		s.kept[0] = r
		heap.Fix(s, 0)
	}
}

// rows returns the page: the rows kept, in order, from off on (never nil).
func (s *selection) rows() []control.Row {
	slices.SortFunc(s.kept, s.order)
	if s.off >= len(s.kept) {
		return []control.Row{}
	}
	out := make([]control.Row, 0, len(s.kept)-s.off)
	for _, r := range s.kept[s.off:] {
		out = append(out, r.Row)
	}
	return out
}
