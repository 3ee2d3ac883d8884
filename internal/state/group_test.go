package state_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ppsync/ppsync/internal/state"
)

// A batch step is one commit when every record's step is allowed, and a
// step the table refuses for one record refuses only that record: the
// others are recorded, the refused one is left as it was.
func TestUpdateEachCommitsOnceAndRefusesPerRecord(t *testing.T) {
	for _, tc := range []struct {
		name        string
		refuse      int // index of the record whose step is refused (-1: none)
		wantCommits uint64
	}{
		{"all allowed", -1, 1},
		{"one refused", 3, 7}, // the whole step rolled back, then 7 of 8 one by one
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openLife(t)
			const n = 8
			files := make([]state.File, n)
			for i := range files {
				files[i] = state.File{Path: fmt.Sprintf("/in/f%d.pdf", i), Inbox: "/in", SHA256: fmt.Sprintf("%064d", i), State: state.FileQueued}
			}
			if tc.refuse >= 0 {
				// A file already finished may not be finished again.
				if err := s.Update(func(tx *state.Tx) error {
					f := files[tc.refuse]
					f.State = state.FileDone
					return tx.SeedFile(f)
				}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Update(func(tx *state.Tx) error {
				for i, f := range files {
					if i == tc.refuse {
						continue
					}
					if err := tx.QueueFile(f); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			before := s.Commits()
			errs := s.UpdateEach(n, func(tx *state.Tx, i int) error {
				f := files[i]
				f.State = state.FileDone
				return tx.FinishFile(f)
			})
			if got := s.Commits() - before; got != tc.wantCommits {
				t.Errorf("%d commits, want %d", got, tc.wantCommits)
			}
			for i, err := range errs {
				f, ok := fileAt(t, s, files[i].Path)
				switch {
				case i == tc.refuse:
					if !errors.Is(err, state.ErrTransition) {
						t.Errorf("record %d: error %v, want ErrTransition", i, err)
					}
					if !ok || f.State != state.FileDone {
						t.Errorf("refused record %d changed: %+v", i, f)
					}
				case err != nil:
					t.Errorf("record %d: %v", i, err)
				case !ok || f.State != state.FileDone:
					t.Errorf("record %d not recorded done: %+v", i, f)
				}
			}
		})
	}
}

// A step that fails part-way writes nothing of it before the records are
// tried one by one: what the first pass wrote is rolled back with it.
func TestUpdateEachRollsBackTheWholeStepFirst(t *testing.T) {
	s, _ := openLife(t)
	runs := map[int]int{}
	errs := s.UpdateEach(3, func(tx *state.Tx, i int) error {
		runs[i]++
		if i == 1 && runs[i] == 1 {
			return errors.New("refused the first time")
		}
		return tx.QueueFile(state.File{Path: fmt.Sprintf("/in/g%d.pdf", i), Inbox: "/in", State: state.FileQueued})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	// Record 0 ran in the rolled-back pass and again on its own; record 2
	// never ran in the first pass.
	if runs[0] != 2 || runs[1] != 2 || runs[2] != 1 {
		t.Errorf("runs %v, want 0:2 1:2 2:1", runs)
	}
}

// Over a large state a step is written in parts of EachPart records, one
// commit each: a record refused is refused alone within its part, the other
// parts commit whole, and a state file that cannot be written fails its
// part and every part after it.
func TestUpdateEachWritesInPartsOverALargeState(t *testing.T) {
	const n = 2*state.EachPart + 5
	queue := func(tx *state.Tx, i int) error {
		return tx.QueueFile(state.File{Path: fmt.Sprintf("/in/p%03d.pdf", i), Inbox: "/in", State: state.FileQueued})
	}
	for _, tc := range []struct {
		name        string
		above       int64
		fail        int   // the record whose step fails (-1: none)
		failErr     error // what it fails with
		wantCommits uint64
		wantFailed  []int
	}{
		{"small state: one commit", 0, -1, nil, 1, nil},
		{"large state: a commit a part", 1, -1, nil, 3, nil},
		{"a refusal stays in its part", 1, state.EachPart + 3, state.ErrTransition,
			1 + (state.EachPart - 1) + 1, []int{state.EachPart + 3}},
		{"a write fault fails the parts after it", 1, state.EachPart + 3, state.ErrWrite,
			1, rangeOf(state.EachPart, n)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openLife(t)
			if tc.above > 0 {
				state.SetPartsAbove(s, tc.above)
			}
			before := s.Commits()
			errs := s.UpdateEach(n, func(tx *state.Tx, i int) error {
				if i == tc.fail {
					return fmt.Errorf("record %d: %w", i, tc.failErr)
				}
				return queue(tx, i)
			})
			if got := s.Commits() - before; got != tc.wantCommits {
				t.Errorf("%d commits, want %d", got, tc.wantCommits)
			}
			failed := map[int]bool{}
			for _, i := range tc.wantFailed {
				failed[i] = true
			}
			for i, err := range errs {
				_, recorded := fileAt(t, s, fmt.Sprintf("/in/p%03d.pdf", i))
				switch {
				case failed[i] && (err == nil || !errors.Is(err, tc.failErr)):
					t.Errorf("record %d: error %v, want %v", i, err, tc.failErr)
				case failed[i] && recorded:
					t.Errorf("record %d failed but was recorded", i)
				case !failed[i] && err != nil:
					t.Errorf("record %d: %v", i, err)
				case !failed[i] && !recorded:
					t.Errorf("record %d not recorded", i)
				}
			}
		})
	}
}

func rangeOf(lo, hi int) []int {
	var r []int
	for i := lo; i < hi; i++ {
		r = append(r, i)
	}
	return r
}
