package ledger_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/ledger"
)

// Answer lists every ledger rebuilt with its schema note, and each error
// of a joined one on its own.
func TestAnswerSaysEachLedgerAndEachError(t *testing.T) {
	a, b := errors.New("inbox /a: cannot read results"), errors.New("inbox /b: cannot write the ledger")
	for _, tc := range []struct {
		name string
		done []ledger.Rebuilt
		err  error
		want control.RebuildAnswer
	}{
		{"nothing", nil, nil, control.RebuildAnswer{Rebuilt: []control.LedgerRebuilt{}}},
		{"rebuilt, one without its schema", []ledger.Rebuilt{{Inbox: "/c", Ledger: "/c/l.csv", Documents: 3},
			{Inbox: "/d", Ledger: "/d/l.xlsx", Documents: 1, SchemaErr: errors.New("API down")}}, nil,
			control.RebuildAnswer{Rebuilt: []control.LedgerRebuilt{{Inbox: "/c", Ledger: "/c/l.csv", Documents: 3},
				{Inbox: "/d", Ledger: "/d/l.xlsx", Documents: 1, SchemaNote: "API down"}}}},
		{"one error", nil, a, control.RebuildAnswer{Rebuilt: []control.LedgerRebuilt{}, Errors: []string{a.Error()}}},
		{"joined errors", nil, errors.Join(a, b), control.RebuildAnswer{Rebuilt: []control.LedgerRebuilt{}, Errors: []string{a.Error(), b.Error()}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ledger.Answer(tc.done, tc.err); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Answer = %+v, want %+v", got, tc.want)
			}
		})
	}
}
