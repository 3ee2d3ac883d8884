package uploader

import (
	"context"
	"errors"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// updateRetrying runs fn in a state transaction, trying again with back-off
// (0.2 s doubling to 30 s) while the state file cannot be written, until
// it succeeds or ctx ends. It is for outcomes that exist nowhere else (an
// accepted submission): fn must be safe to run again.
func (u *Uploader) updateRetrying(ctx context.Context, what string, fn func(*state.Tx) error) error {
	wait := 200 * time.Millisecond
	for {
		err := u.st.Update(fn)
		if err == nil || !errors.Is(err, state.ErrWrite) {
			return err
		}
		u.log.Error("cannot write the state file; retrying until it can be written", "what", what, "error", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(wait*2, 30*time.Second)
	}
}
