package daemon

import (
	"context"
	"errors"
)

// Component is one part of a run that the supervisor starts and stops.
type Component interface {
	// Recover is the component's start-up recovery. Every component
	// recovers, in order, before any of them runs; an error stops the run
	// before it starts.
	Recover(ctx context.Context) error
	// Run works until ctx ends, then lets go of what the component holds,
	// and returns. A Run that returns nil early has done its work and the
	// others go on; one that returns an error stops the run (errFinished
	// stops it without being one). Run is also called, with ctx already
	// ended, on a component that recovered when a later one could not, so
	// that it lets go of what its Recover took.
	Run(ctx context.Context) error
}

// errFinished, returned by a component's Run, ends the run as done (a
// --once run whose files all have a final state).
var errFinished = errors.New("the run is finished")

// supervisor recovers and runs its components: started in order, stopped
// and joined in reverse, so a component stops only once every component
// after it (which may use it) has stopped.
type supervisor []Component

// Recover recovers each component in order. When one fails, those before
// it are stopped in reverse (their Run with an ended context) and its
// error is returned.
func (s supervisor) Recover(ctx context.Context) error {
	for i, c := range s {
		if err := c.Recover(ctx); err != nil {
			done, cancel := context.WithCancel(ctx)
			cancel()
			errs := []error{err}
			for j := i - 1; j >= 0; j-- {
				errs = append(errs, s[j].Run(done))
			}
			return joined(errs)
		}
	}
	return nil
}

// Run starts every component's Run in order and waits until ctx ends or a
// Run returns an error; then it stops them one by one in reverse order,
// each joined before the one before it is stopped, and returns their
// errors, joined in component order (nil when there are none).
func (s supervisor) Run(ctx context.Context) error {
	type running struct {
		stop context.CancelFunc
		done chan struct{}
		err  error
	}
	failed := make(chan struct{}, 1)
	rs := make([]*running, len(s))
	for i, c := range s {
		// Not ctx's child: the supervisor ends each in its turn.
		cctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		r := &running{stop: stop, done: make(chan struct{})}
		rs[i] = r
		go func() {
			defer close(r.done)
			r.err = c.Run(cctx)
			if r.err != nil && cctx.Err() != nil && errors.Is(r.err, context.Canceled) {
				r.err = nil // stopped, as asked
			}
			if r.err != nil {
				select {
				case failed <- struct{}{}:
				default:
				}
			}
		}()
	}
	select {
	case <-ctx.Done():
	case <-failed:
	}
	for i := len(rs) - 1; i >= 0; i-- {
		rs[i].stop()
		<-rs[i].done
	}
	errs := make([]error, 0, len(rs))
	for _, r := range rs {
		if !errors.Is(r.err, errFinished) {
			errs = append(errs, r.err)
		}
	}
	return joined(errs)
}

// joined is errors.Join, but a single error comes back as it is.
func joined(errs []error) error {
	var out []error
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return errors.Join(out...)
}

// component makes a Component of two functions; either may be nil.
type component struct {
	recover func(ctx context.Context) error
	run     func(ctx context.Context) error
}

func (c component) Recover(ctx context.Context) error {
	if c.recover == nil {
		return nil
	}
	return c.recover(ctx)
}

func (c component) Run(ctx context.Context) error {
	if c.run == nil {
		return nil
	}
	return c.run(ctx)
}
