package state

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// The same full disk reads the same whatever record it stopped: Fault
// leaves out the record, keeps the state file and the system's error.
func TestFaultIsTheSameForEveryRecord(t *testing.T) {
	we := &writeError{path: "/var/lib/ppsync/state.db", err: fmt.Errorf("write /var/lib/ppsync/state.db: %w", syscall.ENOSPC)}
	a := Fault(fmt.Errorf("record /in/a.pdf: %w", we))
	b := Fault(fmt.Errorf("record /in/b.pdf: %w", we))
	if a.Error() != b.Error() || strings.Contains(a.Error(), "/in/") {
		t.Errorf("faults of two records: %q and %q; want the same text, without the record", a, b)
	}
	if !errors.Is(a, ErrWrite) || !errors.Is(a, syscall.ENOSPC) || !strings.Contains(a.Error(), "/var/lib/ppsync/state.db") {
		t.Errorf("fault %q: want ErrWrite, ENOSPC and the state file", a)
	}
	other := fmt.Errorf("record /in/a.pdf: %w", syscall.EACCES)
	if Fault(other) != other {
		t.Errorf("Fault changed an error that is not a state write failure: %v", Fault(other))
	}
}
