package finish

// SetBeforeRemoveHeld sets the hook run after a decision's file is written
// and recorded, before the held file is removed.
func SetBeforeRemoveHeld(f *Finisher, fn func()) { f.rv.beforeRemoveHeld = fn }
