// Package history keeps the recent activity (internal/activity) across
// restarts: it restores the recorder from the state at start, records each
// processed document and the credit balance while the daemon runs, and
// saves what the state's transitions do not count (the credit samples and
// the last poll). The recorder itself knows nothing of the state: the
// status page reads it.
package history

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/state"
)

// Defaults of Options.
const (
	// DefaultSaveEvery is how often the credit samples and the last poll
	// are written to the state when they changed (and once more at stop).
	// The counts of documents, pages, credits and failures need no such
	// write: the transitions that record the events count them.
	DefaultSaveEvery = time.Minute
	// DefaultSampleEvery is how often the credit balance is recorded for
	// the burn rate (the recorder keeps about one sample a minute).
	DefaultSampleEvery = 5 * time.Second
)

// Restore fills rec with the history the state keeps (the chart's hours,
// the latencies, the credit samples) and returns the last poll it
// recorded, so that a restart or a reload shows what the one before did.
// It only reads the state.
func Restore(st *state.Store, rec *activity.Recorder) (lastPoll time.Time, err error) {
	var h state.History
	err = st.View(func(tx *state.Tx) error {
		var err error
		h, err = tx.History(time.Now())
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	hours := make([]activity.Hour, len(h.Hours))
	for i, c := range h.Hours {
		hours[i] = activity.Hour{Start: c.Start, Docs: int(c.Documents), Pages: int(c.Pages)}
	}
	credits := make([]activity.CreditSample, len(h.Credits))
	for i, c := range h.Credits {
		credits[i] = activity.CreditSample{At: c.At, Balance: c.Balance}
	}
	rec.Restore(hours, h.Latencies, credits)
	return h.LastPoll, nil
}

// Options configures a Keeper.
type Options struct {
	Store    *state.Store
	Recorder *activity.Recorder
	// Credits is the balance the uploader knows (the API's last answer less
	// the batches in flight, so it moves with each submission), whether it
	// is known, and whether files wait for credits.
	Credits func() (n int, known, waiting bool)
	// LastPoll is the poller's last poll and its error.
	LastPoll func() (time.Time, string)
	Log      *slog.Logger
	// SaveEvery and SampleEvery: DefaultSaveEvery and DefaultSampleEvery
	// when zero.
	SaveEvery, SampleEvery time.Duration
}

// Keeper is the history as one of the daemon's components: its Run
// records the credit balance and saves the credit samples and the last
// poll in the state.
type Keeper struct{ o Options }

// NewKeeper returns a Keeper for o.
func NewKeeper(o Options) *Keeper {
	if o.SaveEvery <= 0 {
		o.SaveEvery = DefaultSaveEvery
	}
	if o.SampleEvery <= 0 {
		o.SampleEvery = DefaultSampleEvery
	}
	return &Keeper{o}
}

// Recover does nothing: the history is restored by Restore, before any
// stage records.
func (k *Keeper) Recover(context.Context) error { return nil }

// Run samples the credits and saves the history until ctx ends (nothing
// when the run never started).
func (k *Keeper) Run(ctx context.Context) error {
	if ctx.Err() != nil {
		return nil
	}
	var wg sync.WaitGroup
	wg.Go(func() { k.sampleCredits(ctx) })
	wg.Go(func() { k.keep(ctx) })
	wg.Wait()
	return nil
}

// sampleCredits records the credit balance the uploader knows until ctx
// ends.
func (k *Keeper) sampleCredits(ctx context.Context) {
	t := time.NewTicker(k.o.SampleEvery)
	defer t.Stop()
	for {
		if n, known, _ := k.o.Credits(); known {
			k.o.Recorder.Credits(n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// keep writes the recorder's credit samples and the last poll to the
// state when they changed, every SaveEvery and once more as ctx ends.
func (k *Keeper) keep(ctx context.Context) {
	st, rec := k.o.Store, k.o.Recorder
	var savedPoll time.Time
	var saved []activity.CreditSample
	save := func() {
		poll, _ := k.o.LastPoll()
		samples := rec.CreditSamples()
		newPoll := !poll.IsZero() && !poll.Equal(savedPoll)
		newSamples := !slices.Equal(samples, saved)
		if !newPoll && !newSamples {
			return
		}
		err := st.Update(func(tx *state.Tx) error {
			if newPoll {
				if err := tx.PutLastPoll(poll); err != nil {
					return err
				}
			}
			if !newSamples {
				return nil
			}
			out := make([]state.CreditSample, len(samples))
			for i, s := range samples {
				out[i] = state.CreditSample{At: s.At, Balance: s.Balance}
			}
			return tx.PutCreditSamples(out)
		})
		if err != nil {
			k.o.Log.Warn("cannot keep the credit samples and the last poll in the state; a restart shows less history", "state", st.Path(), "error", err)
			return
		}
		savedPoll, saved = poll, samples
	}
	t := time.NewTicker(k.o.SaveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			save()
			return
		case <-t.C:
			save()
		}
	}
}

// Recording records every document the API processed in rec (the page's
// throughput and latency, /metrics' latency histogram: from the file being
// seen to its output being written), then hands the output on to next
// (which may be nil). Refused files, never sent, are not counted.
func Recording(rec *activity.Recorder, next finish.Sink) finish.Sink {
	return finish.SinkFunc(func(ctx context.Context, w finish.Written) {
		if w.Document != nil {
			// The latency the state keeps for the file: the same after a restart.
			latency := w.File.Updated.Sub(w.File.FirstSeen)
			if w.File.Updated.IsZero() {
				latency = time.Since(w.File.FirstSeen)
			}
			rec.Result(latency, w.File.Pages)
		}
		if next != nil {
			next.Written(ctx, w)
		}
	})
}
