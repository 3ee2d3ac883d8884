package state

// SetCompactFault makes CompactInPlace fail at the step for which f
// returns an error ("remove", "copy", "sync", "rename").
func SetCompactFault(s *Store, f func(step string) error) { s.compactFault = f }
