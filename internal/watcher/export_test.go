package watcher

// NewDeaf builds a watcher whose file events never arrive, like a network
// share written by another machine.
func NewDeaf(o Options) *Watcher {
	w := New(o)
	w.deaf = true
	return w
}
