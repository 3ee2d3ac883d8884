package notify

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/state"
)

// The digest's failures are the files without a result updated in
// [from, to), gone ones left out, at most limit of them with the total.
func TestHookSourceListsTheFailuresOfAPeriod(t *testing.T) {
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	day := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	if err := st.Update(func(tx *state.Tx) error {
		for _, f := range []state.File{
			{Path: "/in/before.pdf", State: state.FileFailed, Updated: day.Add(-time.Minute)},
			{Path: "/in/a.pdf", State: state.FileFailed, Code: "X", Reason: "r", Updated: day},
			{Path: "/in/b.pdf", State: state.FileInvalid, Updated: day.Add(time.Hour)},
			{Path: "/in/c.pdf", State: state.FileInvalid, Updated: day.Add(2 * time.Hour)},
			{Path: "/in/gone.pdf", State: state.FileGone, Updated: day.Add(time.Hour)},
			{Path: "/in/done.pdf", State: state.FileDone, Updated: day.Add(time.Hour)},
			{Path: "/in/after.pdf", State: state.FileFailed, Updated: day.AddDate(0, 0, 1)},
		} {
			f.Inbox = "/in"
			if err := tx.SeedFile(f); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s := &hookSource{st: st}
	got, total, err := s.FailedBetween(day, day.AddDate(0, 0, 1), 2)
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || len(got) != 2 {
		t.Fatalf("failures %+v of %d, want 2 of 3", got, total)
	}
	for _, f := range got {
		if f.At.Before(day) || !f.At.Before(day.AddDate(0, 0, 1)) {
			t.Errorf("failure %+v outside the day", f)
		}
	}
}

// Health reads the inboxes and credits from the status, the API's outage,
// and the burn rate (and the credits when the status has none) from the
// activity.
func TestHookSourceHealth(t *testing.T) {
	rec := activity.New(nil)
	rec.Credits(500)
	healthy, sick := true, false
	credits := 42
	for _, tc := range []struct {
		name      string
		status    func() (report.Report, error)
		fault     string
		inboxes   int
		wantCreds int
	}{
		{"status", func() (report.Report, error) {
			return report.Report{CreditsAvailable: &credits, Inboxes: []report.Inbox{{Path: "/a", Healthy: &healthy}, {Path: "/b", Healthy: &sick, Error: "gone"}}}, nil
		}, "", 2, 42},
		{"no status", func() (report.Report, error) { return report.Report{}, errors.New("state closed") }, "API down", 0, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &hookSource{status: tc.status, apiFault: func() string { return tc.fault }, rec: rec}
			h := s.Health()
			if len(h.Inboxes) != tc.inboxes || h.Credits == nil || *h.Credits != tc.wantCreds || h.APIDown != (tc.fault != "") || h.APIError != tc.fault {
				t.Fatalf("health %+v", h)
			}
			if tc.inboxes == 2 && (!h.Inboxes[0].Healthy || h.Inboxes[1].Healthy || h.Inboxes[1].Error != "gone") {
				t.Errorf("inboxes %+v", h.Inboxes)
			}
		})
	}
}
