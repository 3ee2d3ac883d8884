package history_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/activity/history"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/statetest"
)

// The credit samples and the last poll are saved while the keeper runs
// (every SaveEvery) and when it stops, and Restore brings them back into a
// new recorder, as after a restart.
func TestKeeperSavesWhatRestoreBringsBack(t *testing.T) {
	for _, tc := range []struct {
		name      string
		saveEvery time.Duration
		stopFirst bool // stop before the first tick: only the save at stop
	}{
		{"every tick", 10 * time.Millisecond, false},
		{"at stop", time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := statetest.Open(t)
			rec := activity.New(nil)
			poll := time.Now().Add(-time.Minute).Truncate(time.Second)
			var balance atomic.Int64
			balance.Store(900)
			k := history.NewKeeper(history.Options{Store: st, Recorder: rec, Log: slog.New(slog.DiscardHandler),
				Credits:   func() (int, bool, bool) { return int(balance.Load()), true, false },
				LastPoll:  func() (time.Time, string) { return poll, "" },
				SaveEvery: tc.saveEvery, SampleEvery: time.Millisecond})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- k.Run(ctx) }()
			saved := func() state.History {
				var h state.History
				if err := st.View(func(tx *state.Tx) error { var err error; h, err = tx.History(time.Now()); return err }); err != nil {
					t.Fatal(err)
				}
				return h
			}
			deadline := time.Now().Add(20 * time.Second)
			for len(rec.CreditSamples()) == 0 || !tc.stopFirst && len(saved().Credits) == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("nothing sampled or saved: samples %v, state %+v", rec.CreditSamples(), saved())
				}
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			h := saved()
			if !h.LastPoll.Equal(poll) || len(h.Credits) == 0 || h.Credits[len(h.Credits)-1].Balance != 900 {
				t.Fatalf("state keeps last poll %v and credits %+v, want %v and 900", h.LastPoll, h.Credits, poll)
			}

			again := activity.New(nil)
			last, err := history.Restore(st, again)
			if err != nil {
				t.Fatal(err)
			}
			if !last.Equal(poll) {
				t.Errorf("restored last poll %v, want %v", last, poll)
			}
			// The samples saved (the sampler may take one more as it stops).
			if got, want := again.CreditSamples(), h.Credits; !slices.EqualFunc(got, want, func(a activity.CreditSample, b state.CreditSample) bool {
				return a.At.Equal(b.At) && a.Balance == b.Balance
			}) {
				t.Errorf("restored credit samples %v, want %v", got, want)
			}
		})
	}
}

// A run that never started (its context already ended) neither samples
// nor writes.
func TestKeeperDoesNothingWhenTheRunNeverStarted(t *testing.T) {
	st := statetest.Open(t)
	called := false
	k := history.NewKeeper(history.Options{Store: st, Recorder: activity.New(nil), Log: slog.New(slog.DiscardHandler),
		Credits:  func() (int, bool, bool) { called = true; return 1, true, false },
		LastPoll: func() (time.Time, string) { called = true; return time.Now(), "" }})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := k.Run(ctx); err != nil || called {
		t.Errorf("Run on an ended context: %v, read the stages %v", err, called)
	}
}

// Recording counts a processed document's pages and latency (from the file
// first seen to its record's update) and not a refused file, and hands
// both on.
func TestRecordingCountsProcessedDocumentsOnly(t *testing.T) {
	rec := activity.New(nil)
	var passed []string
	next := finish.SinkFunc(func(_ context.Context, w finish.Written) { passed = append(passed, w.File.Path) })
	sink := history.Recording(rec, next)
	seen := time.Now().Add(-3 * time.Second)
	sink.Written(context.Background(), finish.Written{File: state.File{Path: "/in/a.pdf", Pages: 4, FirstSeen: seen, Updated: seen.Add(2 * time.Second)},
		Document: json.RawMessage(`{}`)})
	sink.Written(context.Background(), finish.Written{File: state.File{Path: "/in/refused.pdf", Pages: 9, FirstSeen: seen, State: state.FileInvalid}})
	history.Recording(rec, nil).Written(context.Background(), finish.Written{File: state.File{Path: "/in/b.pdf"}}) // no next: no panic
	if strings.Join(passed, ",") != "/in/a.pdf,/in/refused.pdf" {
		t.Errorf("handed on %v", passed)
	}
	s := rec.Snapshot()
	docs, pages := 0, 0
	for _, h := range s.Hours {
		docs, pages = docs+h.Docs, pages+h.Pages
	}
	if docs != 1 || pages != 4 || s.LatencySamples != 1 || s.LatencyP50 != 2 {
		t.Errorf("recorded %d documents, %d pages, %d latencies (p50 %v s); want 1, 4, 1 (2 s)", docs, pages, s.LatencySamples, s.LatencyP50)
	}
}
