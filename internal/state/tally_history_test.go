package state_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// life puts a file through queued → end (and its document through
// queued → submitted → done when end is done) at the given times.
func life(t *testing.T, s *state.Store, path string, end state.FileState, pages int, seen, at time.Time) {
	t.Helper()
	sha := fmt.Sprintf("%064x", len(path)*7919+pages)
	key := state.DocKey("prs", sha)
	f := state.File{Path: path, Inbox: "/in", ParserID: "prs", SHA256: sha, Pages: pages, State: state.FileQueued, FirstSeen: seen, Updated: seen}
	d := state.Doc{Key: key, ParserID: "prs", SHA256: sha, Pages: pages, State: state.DocQueued, Updated: seen}
	steps := []func(tx *state.Tx) error{
		func(tx *state.Tx) error { return errorsJoin(tx.SeedDoc(d), tx.SeedFile(f)) },
	}
	if end == state.FileDone || end == state.FileFailed {
		steps = append(steps, func(tx *state.Tx) error {
			d.State, d.SubmittedAt, d.Updated = state.DocSubmitted, at, at
			return tx.SeedDoc(d)
		}, func(tx *state.Tx) error {
			// Written again while submitted (an answer's detail): charged once.
			d.Unmatched++
			return tx.SeedDoc(d)
		})
	}
	steps = append(steps, func(tx *state.Tx) error {
		f.State, f.Updated = end, at
		return tx.SeedFile(f)
	}, func(tx *state.Tx) error {
		// Moved after its result: the same state again counts nothing.
		f.MovedTo = path + ".moved"
		return tx.SeedFile(f)
	})
	for _, step := range steps {
		if err := s.Update(step); err != nil {
			t.Fatal(err)
		}
	}
}

func history(t *testing.T, s *state.Store, now time.Time) state.History {
	t.Helper()
	var h state.History
	if err := s.View(func(tx *state.Tx) error {
		var err error
		h, err = tx.History(now)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return h
}

// Results, failures and charges are counted per hour and per day by the
// transitions that record them, and come back after the store is closed
// and opened again, with the latencies, the last poll and the credit
// samples.
func TestHistorySurvivesReopening(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openStore(t, path)
	now := time.Now().Truncate(time.Hour).Add(30 * time.Minute)
	earlier := now.Add(-2 * time.Hour)
	life(t, s, "/in/a.pdf", state.FileDone, 3, earlier.Add(-4*time.Second), earlier)
	life(t, s, "/in/b.pdf", state.FileDone, 2, now.Add(-10*time.Second), now)
	life(t, s, "/in/c.pdf", state.FileFailed, 5, now.Add(-time.Second), now)
	// Refused before upload: never queued, a failure, nothing charged.
	if err := s.Update(func(tx *state.Tx) error {
		return tx.SeedFile(state.File{Path: "/in/d.pdf", Inbox: "/in", State: state.FileInvalid, Updated: now})
	}); err != nil {
		t.Fatal(err)
	}
	// Written without passing through the pipeline (a rebuild): nothing.
	if err := s.Update(func(tx *state.Tx) error {
		return errorsJoin(tx.SeedFile(state.File{Path: "/in/e.pdf", Inbox: "/in", State: state.FileDone, Pages: 9, Updated: now}),
			tx.SeedFile(state.File{Path: "/in/f.pdf", Inbox: "/in", State: state.FileFailed, Updated: now}))
	}); err != nil {
		t.Fatal(err)
	}
	poll := now.Add(-3 * time.Second)
	samples := []state.CreditSample{{At: earlier, Balance: 500}, {At: now, Balance: 490}}
	if err := s.Update(func(tx *state.Tx) error {
		return errorsJoin(tx.PutLastPoll(poll), tx.PutCreditSamples(samples))
	}); err != nil {
		t.Fatal(err)
	}
	before := history(t, s, now)
	s.Close()
	s = openStore(t, path)
	defer s.Close()
	h := history(t, s, now)

	wantHours := []state.HourCounts{
		{Start: earlier.Truncate(time.Hour), Counts: state.Counts{Documents: 1, Pages: 3, Credits: 3}},
		{Start: now.Truncate(time.Hour), Counts: state.Counts{Documents: 1, Pages: 2, Credits: 7, Failures: 2}},
	}
	if !slices.EqualFunc(h.Hours, wantHours, func(a, b state.HourCounts) bool { return a.Start.Equal(b.Start) && a.Counts == b.Counts }) {
		t.Errorf("hours after reopening %+v, want %+v", h.Hours, wantHours)
	}
	total := state.Counts{Documents: 2, Pages: 5, Credits: 10, Failures: 2}
	var sum state.Counts
	for _, d := range h.Days {
		sum.Documents, sum.Pages, sum.Credits, sum.Failures = sum.Documents+d.Documents, sum.Pages+d.Pages, sum.Credits+d.Credits, sum.Failures+d.Failures
	}
	if sum != total || h.Days[len(h.Days)-1].Date != now.Format(time.DateOnly) {
		t.Errorf("days %+v: total %+v, want %+v ending today", h.Days, sum, total)
	}
	lat := slices.Sorted(slices.Values(h.Latencies))
	if want := []time.Duration{4 * time.Second, 10 * time.Second}; !slices.Equal(lat, want) {
		t.Errorf("latencies %v, want %v (the failed file's is not a result's)", lat, want)
	}
	if !h.LastPoll.Equal(poll) {
		t.Errorf("last poll %v, want %v", h.LastPoll, poll)
	}
	if len(h.Credits) != 2 || !h.Credits[0].At.Equal(samples[0].At) || h.Credits[1].Balance != 490 {
		t.Errorf("credit samples %+v, want %+v", h.Credits, samples)
	}
	if fmt.Sprint(before) != fmt.Sprint(h) {
		t.Errorf("history changed by reopening:\n%+v\n%+v", before, h)
	}
	// Within the day, a later hour still lists today's events.
	if err := s.View(func(tx *state.Tx) error {
		days, err := tx.HistoryDays(now, 1)
		if err != nil || len(days) != 1 || days[0].Date != now.Format(time.DateOnly) {
			t.Errorf("last 1 day: %+v, %v", days, err)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Errorf("state check with a history: %v", err)
	}
}

// Old hours and days are pruned as new ones begin: at most HistoryHours
// hours and HistoryDays days are kept, the latest latencies only, and an
// event older than the window kept is not counted.
func TestHistoryIsBounded(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.Local)
	var last time.Time
	for i := range 200 {
		last = start.AddDate(0, 0, i)
		life(t, s, fmt.Sprintf("/in/day%03d.pdf", i), state.FileDone, 1, last.Add(-time.Second), last)
	}
	for i := range 30 {
		at := last.Add(time.Duration(i) * time.Hour)
		life(t, s, fmt.Sprintf("/in/hour%02d.pdf", i), state.FileDone, 1, at.Add(-time.Second), at)
	}
	end := last.Add(29 * time.Hour)
	// A record of long ago, finished now with an old clock: not counted.
	life(t, s, "/in/old.pdf", state.FileFailed, 1, start, start)
	var stored []state.DayCounts
	if err := s.View(func(tx *state.Tx) error {
		var err error
		stored, err = tx.HistoryDays(end, 1000)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(stored) > state.HistoryDays {
		t.Errorf("%d days kept, want at most %d", len(stored), state.HistoryDays)
	}
	wantFirst := time.Date(end.Year(), end.Month(), end.Day()-(state.HistoryDays-1), 0, 0, 0, 0, time.Local).Format(time.DateOnly)
	if len(stored) == 0 || stored[0].Date != wantFirst || stored[len(stored)-1].Date != end.Format(time.DateOnly) {
		t.Errorf("days kept from %v to %v, want %s to %s", stored[0].Date, stored[len(stored)-1].Date, wantFirst, end.Format(time.DateOnly))
	}
	for _, d := range stored {
		if d.Failures != 0 {
			t.Errorf("the failure of long ago was counted on %s", d.Date)
		}
	}
	h := history(t, s, end)
	if len(h.Hours) != state.HistoryHours {
		t.Errorf("%d hours listed, want %d", len(h.Hours), state.HistoryHours)
	}
	if len(h.Latencies) != 230 {
		t.Errorf("%d latencies, want 230", len(h.Latencies))
	}
	// The store holds no more than the window: an hour before it is gone.
	if err := s.View(func(tx *state.Tx) error {
		old, err := tx.History(end.Add(-30 * time.Hour))
		if err == nil && len(old.Hours) > 0 && old.Hours[0].Start.Before(end.Add(-(state.HistoryHours)*time.Hour)) {
			t.Errorf("an hour before the window is still stored: %v", old.Hours[0].Start)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// The latency ring keeps the latest HistoryLatencies.
func TestHistoryLatenciesAreTheLatest(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	now := time.Now()
	if err := s.Update(func(tx *state.Tx) error {
		for i := range state.HistoryLatencies + 10 {
			f := state.File{Path: fmt.Sprintf("/in/%d.pdf", i), Inbox: "/in", State: state.FileQueued}
			if err := tx.SeedFile(f); err != nil {
				return err
			}
			f.State, f.FirstSeen, f.Updated = state.FileDone, now.Add(-time.Duration(i)*time.Millisecond), now
			if err := tx.SeedFile(f); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	h := history(t, s, now)
	if len(h.Latencies) != state.HistoryLatencies {
		t.Fatalf("%d latencies kept, want %d", len(h.Latencies), state.HistoryLatencies)
	}
	if slices.Contains(h.Latencies, 0) || !slices.Contains(h.Latencies, time.Duration(state.HistoryLatencies+9)*time.Millisecond) {
		t.Errorf("the ring kept old latencies or lost the newest: min %v max %v", slices.Min(h.Latencies), slices.Max(h.Latencies))
	}
}
