package daemon

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/state"
)

// historySaveEvery is how often the credit samples and the last poll are
// written to the state when they changed (and once more at stop). The
// counts of documents, pages, credits and failures need no such write: the
// transitions that record the events count them.
const historySaveEvery = time.Minute

// restoreHistory fills rec with the history the state keeps (the chart's
// hours, the latencies, the credit samples) and returns the last poll it
// recorded, so that a restart or a reload shows what the one before did.
func restoreHistory(st *state.Store, rec *activity.Recorder) (time.Time, error) {
	var h state.History
	err := st.View(func(tx *state.Tx) error {
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

// keepHistory writes rec's credit samples and the last poll to the state
// when they changed, every historySaveEvery and once more as ctx ends.
func keepHistory(ctx context.Context, st *state.Store, rec *activity.Recorder, lastPoll func() (time.Time, string), log *slog.Logger) {
	var savedPoll time.Time
	var saved []activity.CreditSample
	save := func() {
		poll, _ := lastPoll()
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
			log.Warn("cannot keep the credit samples and the last poll in the state; a restart shows less history", "state", st.Path(), "error", err)
			return
		}
		savedPoll, saved = poll, samples
	}
	t := time.NewTicker(historySaveEvery)
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
