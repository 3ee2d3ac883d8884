package state_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/state"
)

// StoredResults finds the final documents that still hold a result, in
// rounds of a bounded number of records, and nothing else.
func TestStoredResultsInRounds(t *testing.T) {
	s, err := state.Open(filepath.Join(t.TempDir(), "state.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var want []string
	if err := s.Update(func(tx *state.Tx) error {
		for i := range 25 {
			d := state.Doc{Key: state.DocKey("prs", fmt.Sprintf("%03d", i)), State: state.DocDone}
			switch i % 5 {
			case 0: // done, result kept: listed
				d.Result = []byte(`{"document_id":"doc_1"}`)
				want = append(want, d.Key)
			case 1: // failed with a result: listed
				d.State, d.Result = state.DocFailed, []byte(`{"status":"failed"}`)
				want = append(want, d.Key)
			case 2: // still waiting for its files: not final
				d.State, d.Result = state.DocSubmitted, []byte(`{}`)
			case 3: // result already dropped
			case 4: // a file name that merely contains the word
				d.Files = []string{`/in/"result":.pdf`}
			}
			if err := tx.SeedDoc(d); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var got []string
	after, rounds := "", 0
	for more := true; more; {
		rounds++
		if err := s.View(func(tx *state.Tx) error {
			var err error
			after, more, err = tx.StoredResults(after, 4, func(k string) error { got = append(got, k); return nil })
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if rounds > 20 {
			t.Fatal("StoredResults never says it is done")
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("StoredResults listed %v, want %v", got, want)
	}
	if rounds != 7 { // 25 records, 4 a round
		t.Fatalf("%d rounds, want 7", rounds)
	}
}

// Transactions counts View and Update calls, and only those.
func TestTransactionsCounts(t *testing.T) {
	s, err := state.Open(filepath.Join(t.TempDir(), "state.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n0 := s.Transactions()
	_ = s.View(func(*state.Tx) error { return nil })
	_ = s.Update(func(*state.Tx) error { return nil })
	if err := s.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	if got := s.Transactions() - n0; got != 2 {
		t.Fatalf("Transactions grew by %d after a View, an Update and a release; want 2", got)
	}
}
