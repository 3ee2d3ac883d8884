package watcher

import "context"

// NewDeaf builds a watcher whose file events never arrive, like a network
// share written by another machine.
func NewDeaf(o Options) *Watcher {
	w := New(o)
	w.deaf = true
	return w
}

// ScanSettled scans once and marks every candidate as reported, so a
// benchmark can time rescans of unchanged files.
func (w *Watcher) ScanSettled() error {
	out := make(chan Event, 1)
	go func() {
		for range out {
		}
	}()
	defer close(out)
	if err := w.scan(context.Background(), out); err != nil {
		return err
	}
	for p, c := range w.cands.all() {
		w.emitted.set(p, c.stamp)
		w.cands.del(p)
	}
	return nil
}

// Rescan runs one full rescan and returns how many files were candidates afterwards.
func (w *Watcher) Rescan() (int, error) {
	out := make(chan Event, 1)
	err := w.scan(context.Background(), out)
	return w.cands.len(), err
}
