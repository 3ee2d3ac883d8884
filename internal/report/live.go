package report

import (
	"maps"
	"slices"
)

// Clone returns a copy of r whose inboxes (their counts and last errors)
// can be changed without changing r: a running daemon keeps the counts of
// one version of the state and completes a copy at each request.
func (r Report) Clone() Report {
	r.Inboxes = slices.Clone(r.Inboxes)
	for i := range r.Inboxes {
		r.Inboxes[i].Files = maps.Clone(r.Inboxes[i].Files)
		r.Inboxes[i].LastErrors = slices.Clone(r.Inboxes[i].LastErrors)
	}
	return r
}

// HoldForCredits shows the files held back for credits while smaller ones
// go ahead: listed, counted as waiting for credits in their inbox instead
// of queued (unless allWaiting: every queued file is already counted so),
// and the report says submissions wait.
func (r *Report) HoldForCredits(waits []CreditWait, allWaiting bool) {
	if len(waits) == 0 {
		return
	}
	r.WaitingForCredits = true
	for _, w := range waits {
		r.CreditWaits = append(r.CreditWaits, w)
		if allWaiting {
			continue
		}
		for i := range r.Inboxes {
			if in := &r.Inboxes[i]; in.Path == w.Inbox && in.Files[Queued] > 0 {
				in.Files[Queued]--
				in.Files[WaitingCredits]++
			}
		}
	}
}
