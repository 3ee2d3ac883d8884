package report_test

import (
	"maps"
	"testing"

	"github.com/ppsync/ppsync/internal/report"
)

// A clone's inbox counts and last errors change without changing the
// original.
func TestCloneLeavesTheOriginalIntact(t *testing.T) {
	r := report.Report{Inboxes: []report.Inbox{{Path: "/in", Files: map[string]int{report.Queued: 2},
		LastErrors: []report.FileError{{Path: "/in/a.pdf"}}}}}
	c := r.Clone()
	c.Inboxes[0].Files[report.Queued] = 9
	c.Inboxes[0].LastErrors[0].Path = "/in/changed.pdf"
	c.Inboxes[0].Path = "/elsewhere"
	if in := r.Inboxes[0]; in.Files[report.Queued] != 2 || in.LastErrors[0].Path != "/in/a.pdf" || in.Path != "/in" {
		t.Errorf("the original changed with its clone: %+v", in)
	}
}

// Files held back for credits are listed and counted as waiting for
// credits in their inbox instead of queued, unless every queued file is
// counted so already; a queued count never goes below zero.
func TestHoldForCredits(t *testing.T) {
	waits := []report.CreditWait{{Path: "/a/big.pdf", Inbox: "/a", Needs: 40, Available: 10},
		{Path: "/a/huge.pdf", Inbox: "/a", Needs: 90, Available: 10}, {Path: "/b/x.pdf", Inbox: "/b", Needs: 20, Available: 10}}
	for _, tc := range []struct {
		name       string
		waits      []report.CreditWait
		allWaiting bool
		wantA      map[string]int
		wantB      map[string]int
		wantFlag   bool
	}{
		{"none", nil, false, map[string]int{report.Queued: 3}, map[string]int{report.Queued: 0}, false},
		{"some held", waits, false, map[string]int{report.Queued: 1, report.WaitingCredits: 2}, map[string]int{report.Queued: 0}, true},
		{"all waiting already", waits, true, map[string]int{report.Queued: 3}, map[string]int{report.Queued: 0}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := report.Report{Inboxes: []report.Inbox{{Path: "/a", Files: map[string]int{report.Queued: 3}}, {Path: "/b", Files: map[string]int{report.Queued: 0}}}}
			r.HoldForCredits(tc.waits, tc.allWaiting)
			if !maps.Equal(r.Inboxes[0].Files, tc.wantA) || !maps.Equal(r.Inboxes[1].Files, tc.wantB) {
				t.Errorf("counts /a %v /b %v, want %v %v", r.Inboxes[0].Files, r.Inboxes[1].Files, tc.wantA, tc.wantB)
			}
			if r.WaitingForCredits != tc.wantFlag || len(r.CreditWaits) != len(tc.waits) {
				t.Errorf("waiting %v with %v", r.WaitingForCredits, r.CreditWaits)
			}
		})
	}
}
