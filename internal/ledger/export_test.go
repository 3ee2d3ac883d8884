package ledger

// SetBeforeRename installs a hook that runs between the temp file's fsync
// and the rename over the ledger (to fail or kill the process there).
func (l *Ledger) SetBeforeRename(f func() error) {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	l.beforeRename = f
}
