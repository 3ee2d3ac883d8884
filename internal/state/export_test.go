package state

// SetCompactFault makes CompactInPlace fail at the step for which f
// returns an error ("remove", "copy", "sync", "rename").
func SetCompactFault(s *Store, f func(step string) error) { s.compactFault = f }

// SetPartsAbove makes UpdateEach write in parts over a state of n bytes.
func SetPartsAbove(s *Store, n int64) { s.partsOver = n }

// EachPart is how many records a part of UpdateEach writes.
const EachPart = eachPart

// Wakes is how many times the maintainer woke to look at the mapped pages.
func (m *Maintainer) Wakes() int64 { return m.wakes.Load() }

// Unchecked is how many records were touched since the last look at the
// mapped pages.
func Unchecked(s *Store) int64 { return s.unchecked.Load() }
