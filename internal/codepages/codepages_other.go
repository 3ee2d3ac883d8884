//go:build !linux

package codepages

// Pages are the executable's mappings that can be handed back: none where
// the platform does not count them as Linux does, or offers no way.
type Pages struct{}

// Find finds nothing here.
func Find() (*Pages, error) { return nil, nil }

// Bytes is 0.
func (p *Pages) Bytes() int64 { return 0 }

// Release does nothing.
func (p *Pages) Release() error { return nil }
