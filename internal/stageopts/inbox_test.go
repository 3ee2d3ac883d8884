package stageopts_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/ledger"
	"github.com/ppsync/ppsync/internal/review"
	"github.com/ppsync/ppsync/internal/stageopts"
)

// everySet fails for each field of v left zero: a field added to a
// stage's options and forgotten here.
func everySet(t *testing.T, what string, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if rv.Field(i).IsZero() {
			t.Errorf("%s.%s is not set from the config", what, rv.Type().Field(i).Name)
		}
	}
}

func TestLedgersAndReviewCarryEveryInboxSettingTheyRead(t *testing.T) {
	in := config.Inbox{Path: "/srv/in", ParserID: "prs", Ledger: "/srv/in/ledger.xlsx", ResultsDir: "/srv/out", After: "move",
		ProcessedDir: "/srv/in/done", FailedDir: "/srv/in/failed", LedgerSeparator: ";", LedgerDecimal: ",", ReviewInLedger: true,
		ReviewBelow: 0.8, Require: []string{"total"}, ReviewSums: true, SumTolerance: 0.05, ReviewDuplicates: true}
	got := stageopts.Ledgers([]config.Inbox{in, {Path: "/other"}})
	want := ledger.Inbox{Path: "/srv/in", Ledger: "/srv/in/ledger.xlsx", ParserID: "prs", ResultsDir: "/srv/out", ProcessedDir: "/srv/in/done",
		FailedDir: "/srv/in/failed", Move: true, Format: ledger.Format{Separator: ';', Decimal: ','}, Held: true}
	if len(got) != 2 || !reflect.DeepEqual(got[0], want) || got[1].Path != "/other" || got[1].Move {
		t.Fatalf("Ledgers = %+v\nwant [%+v {Path:/other}]", got, want)
	}
	everySet(t, "ledger.Inbox", got[0])

	rules := stageopts.Review(in)
	if want := (review.Rules{Below: 0.8, Require: []string{"total"}, Sums: true, Tolerance: 0.05, Duplicates: true}); !reflect.DeepEqual(rules, want) {
		t.Fatalf("Review = %+v, want %+v", rules, want)
	}
	everySet(t, "review.Rules", rules)
}

func TestUploadExtensionsFollowEveryInboxsTypes(t *testing.T) {
	for _, tc := range []struct {
		name string
		ins  []config.Inbox
		want []string
	}{
		{"defaults", []config.Inbox{{}}, []string{".pdf", ".png", ".jpg", ".jpeg", ".webp"}},
		{"first met, once, lower case", []config.Inbox{{Types: []string{"*.PDF", "*.png"}}, {Types: []string{"*.pdf", "*.webp", "scan-*"}}},
			[]string{".pdf", ".png", ".webp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := stageopts.UploadExtensions(tc.ins); !slices.Equal(got, tc.want) {
				t.Errorf("UploadExtensions = %q, want %q", got, tc.want)
			}
		})
	}
}
