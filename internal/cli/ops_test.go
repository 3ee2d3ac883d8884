package cli

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/report"
)

// fakeControl answers as an installation would, and records what it was
// asked to change.
type fakeControl struct {
	plan      control.ReprocessAnswer
	planErr   error
	retried   []string // what Retry answers
	marked    []string // what Reprocess answers as marked
	asked     [][]string
	rebuilt   control.RebuildAnswer
	rebuildEr error
}

func (f *fakeControl) Status(context.Context) (report.Report, error) { return report.Report{}, nil }
func (f *fakeControl) Retry(_ context.Context, req control.RetryRequest) (control.RetryAnswer, error) {
	return control.RetryAnswer{Retried: f.retried}, nil
}
func (f *fakeControl) PlanReprocess(context.Context, []string) (control.ReprocessAnswer, error) {
	return f.plan, f.planErr
}
func (f *fakeControl) Reprocess(_ context.Context, paths []string) (control.ReprocessAnswer, error) {
	f.asked = append(f.asked, paths)
	a := f.plan
	a.Reprocessed = f.marked
	return a, nil
}
func (f *fakeControl) WebhookTest(context.Context) (control.WebhookTestAnswer, error) {
	return control.WebhookTestAnswer{}, control.ErrNotRunning
}
func (f *fakeControl) RebuildLedgers(context.Context) (control.RebuildAnswer, error) {
	return f.rebuilt, f.rebuildEr
}

func exitCode(err error) int {
	code, _ := ExitCode(err)
	return code
}

func TestReprocessCost(t *testing.T) {
	for _, c := range []struct {
		plan control.ReprocessAnswer
		want string
	}{
		{control.ReprocessAnswer{Files: []string{"/a.pdf"}, Pages: 1},
			"Processing 1 file again costs 1 credit (1 page = 1 credit); each is sent as a new job and charged again."},
		{control.ReprocessAnswer{Files: []string{"/a.pdf", "/b.pdf"}, Pages: 7},
			"Processing 2 files again costs 7 credits (1 page = 1 credit); each is sent as a new job and charged again."},
		{control.ReprocessAnswer{Files: []string{"/a.pdf", "/b.pdf", "/c.pdf"}, Pages: 2, Unknown: 1},
			"Processing 3 files again costs 2 credits (1 page = 1 credit), plus the pages of 1 file never counted; each is sent as a new job and charged again."},
	} {
		if got := ReprocessCost(c.plan); got != c.want {
			t.Errorf("ReprocessCost(%+v) =\n%q\nwant\n%q", c.plan, got, c.want)
		}
	}
}

// The cost is said before anything is marked; only a yes (or --yes, no
// question) marks the planned files; no terminal marks nothing and says
// to add --yes; skipped paths are named and make the exit code 1.
func TestReprocessConfirmation(t *testing.T) {
	two := control.ReprocessAnswer{Files: []string{"/in/a.pdf", "/in/b.pdf"}, Pages: 3}
	yes := func(string) (bool, error) { return true, nil }
	no := func(string) (bool, error) { return false, nil }
	noTerminal := func(string) (bool, error) { return false, ErrNoTerminal }
	for _, c := range []struct {
		name     string
		plan     control.ReprocessAnswer
		planErr  error
		paths    []string
		confirm  func(string) (bool, error)
		running  bool
		marked   []string
		code     int
		wantMark bool
		out      []string
		errOut   string
		err      string
	}{
		{name: "confirmed", plan: two, paths: two.Files, confirm: yes, marked: two.Files, code: 0, wantMark: true,
			out: []string{"costs 3 credits", "reprocess: /in/a.pdf", "reprocess: /in/b.pdf", "2 files will be processed again when ppsync next runs."}},
		{name: "--yes asks nothing", plan: two, paths: two.Files, confirm: nil, marked: two.Files, running: true, code: 0, wantMark: true,
			out: []string{"costs 3 credits", "2 files sent through again now."}},
		{name: "declined", plan: two, paths: two.Files, confirm: no, code: 0, out: []string{"costs 3 credits", "nothing changed"}},
		{name: "no terminal", plan: two, paths: two.Files, confirm: noTerminal, code: ExitFailed,
			out: []string{"costs 3 credits"}, err: "add --yes"},
		{name: "nothing finished", plan: control.ReprocessAnswer{Skipped: map[string]string{"/in/x.pdf": "not tracked"}}, paths: []string{"/in/x.pdf"},
			confirm: yes, code: ExitFailed, errOut: "skipped: /in/x.pdf: not tracked", err: "nothing to process again"},
		{name: "no state", planErr: control.ErrNoState, paths: []string{"/in/x.pdf"}, confirm: yes, code: ExitFailed, err: control.ErrNoState.Error()},
		{name: "one skipped", plan: control.ReprocessAnswer{Files: []string{"/in/a.pdf"}, Pages: 1, Skipped: map[string]string{"/in/q.pdf": "in flight"}},
			paths: []string{"/in/a.pdf", "/in/q.pdf"}, confirm: yes, marked: []string{"/in/a.pdf"}, code: ExitFailed, wantMark: true,
			out: []string{"costs 1 credit", "reprocess: /in/a.pdf"}, errOut: "skipped: /in/q.pdf: in flight", err: "1 file of 2 not processed again"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeControl{plan: c.plan, planErr: c.planErr, marked: c.marked}
			var out, errOut bytes.Buffer
			asked := ""
			confirm := c.confirm
			if confirm != nil {
				confirm = func(q string) (bool, error) {
					// The cost stands before the question.
					if !strings.Contains(out.String(), "costs") {
						t.Errorf("asked %q before saying the cost: %q", q, out.String())
					}
					asked = q
					return c.confirm(q)
				}
			}
			err := reprocess(t.Context(), &out, &errOut, f, c.running, c.paths, confirm)
			if got := exitCode(err); got != c.code {
				t.Errorf("exit code %d (%v), want %d", got, err, c.code)
			}
			if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Errorf("error %v, want one saying %q", err, c.err)
			}
			if marked := len(f.asked) > 0; marked != c.wantMark {
				t.Errorf("files marked: %v, want %v (asked %q)", f.asked, c.wantMark, asked)
			} else if marked && !slices.Equal(f.asked[0], c.plan.Files) {
				t.Errorf("marked %q, want the planned %q", f.asked[0], c.plan.Files)
			}
			if c.confirm != nil && c.wantMark && asked == "" {
				t.Error("marked without asking")
			}
			for _, w := range c.out {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout %q does not say %q", out.String(), w)
				}
			}
			if !strings.Contains(errOut.String(), c.errOut) {
				t.Errorf("stderr %q does not say %q", errOut.String(), c.errOut)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	for _, c := range []struct {
		name    string
		req     control.RetryRequest
		retried []string
		running bool
		code    int
		out     string
		err     string
	}{
		{"named, offline", control.RetryRequest{Paths: []string{"/in/a.pdf"}}, []string{"/in/a.pdf"}, false, 0,
			"retry: /in/a.pdf\n1 file will be sent through again when ppsync next runs.\n", ""},
		{"failed, running", control.RetryRequest{Failed: true}, []string{"/in/a.pdf", "/in/b.pdf"}, true, 0,
			"retry: /in/a.pdf\nretry: /in/b.pdf\n2 files sent through again now.\n", ""},
		{"none matched", control.RetryRequest{Failed: true}, nil, true, 0, "nothing to retry: no failed or refused file matched\n", ""},
		{"one not failed", control.RetryRequest{Paths: []string{"/in/a.pdf", "/in/done.pdf"}}, []string{"/in/a.pdf"}, true, ExitFailed,
			"retry: /in/a.pdf\n1 file sent through again now.\n", "not retried (not known as failed or refused; to process a finished file again use --reprocess): /in/done.pdf"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := retry(t.Context(), &out, &fakeControl{retried: c.retried}, c.running, c.req)
			if exitCode(err) != c.code || out.String() != c.out || (c.err != "" && (err == nil || err.Error() != c.err)) {
				t.Errorf("retry = %v (exit %d), printed %q; want exit %d, %q, error %q", err, exitCode(err), out.String(), c.code, c.out, c.err)
			}
		})
	}
}

func TestRebuildLedgers(t *testing.T) {
	one := control.RebuildAnswer{Rebuilt: []control.LedgerRebuilt{{Inbox: "/in", Ledger: "/in/l.csv", Documents: 4, SchemaNote: "no key"}}}
	for _, c := range []struct {
		name string
		ans  control.RebuildAnswer
		err  error
		code int
		out  string
	}{
		{"rebuilt", one, nil, 0, "ledger /in/l.csv: 4 documents (inbox /in)\n  columns from the documents' keys, not the parser's schema: no key\n"},
		{"an inbox failed", one, errors.New("inbox /x: unreadable"), ExitFailed, "ledger /in/l.csv: 4 documents (inbox /in)\n"},
		{"no ledger", control.RebuildAnswer{}, nil, ExitFailed, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := rebuildLedgers(t.Context(), &out, &fakeControl{rebuilt: c.ans, rebuildEr: c.err}, "/etc/ppsync/config.toml")
			if exitCode(err) != c.code || !strings.HasPrefix(out.String(), c.out) {
				t.Errorf("rebuildLedgers = %v, printed %q; want exit %d and %q", err, out.String(), c.code, c.out)
			}
			if c.name == "no ledger" && (err == nil || !strings.Contains(err.Error(), "/etc/ppsync/config.toml has a ledger: add ledger")) {
				t.Errorf("no ledger: error %v does not name the config and the fix", err)
			}
		})
	}
}
