package notify

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/errcode"
)

// Health is what the daemon reports at each check.
type Health struct {
	Inboxes []InboxHealth
	// APIDown is set while the API gives no answer; APIError says why.
	APIDown  bool
	APIError string
	// Credits is the balance last known (nil before the first answer).
	Credits *int
	// RunsOutInDays is the status page's forecast (nil without one).
	RunsOutInDays *float64
	// BurnPerDay is the credits spent per day the forecast is based on.
	BurnPerDay *float64
}

// InboxHealth is one inbox's reachability.
type InboxHealth struct {
	Path    string
	Healthy bool
	Error   string
}

// Failure is a file that ended without a result.
type Failure struct {
	Path   string
	Code   string
	Reason string
	At     time.Time
}

// condition is a problem present at one check.
type condition struct {
	event     string
	title     string
	resolved  string // the title once it has ended
	detail    string
	threshold time.Duration
}

// cause is a problem being followed over time.
type cause struct {
	cond        condition
	activeSince time.Time
	clearSince  time.Time // zero while present
	notified    bool
	lastSent    time.Time
}

// alerts decides, for one target, which problems to tell and when: a
// problem is told once it has lasted its threshold, again at most every
// repeat while it lasts, and "resolved" once it has been gone for
// resolveAfter; a problem that comes back within resolveAfter (a flapping
// inbox) is the same problem.
type alerts struct {
	cfg    config.Notify
	causes map[string]*cause
	// failures gathered for the next failure message
	pending     []Failure
	pendingMore int
	firstFailed time.Time
	lastFailMsg time.Time
}

// maxListed is how many files one failure message names.
const maxListed = 20

func newAlerts(cfg config.Notify) *alerts {
	return &alerts{cfg: cfg, causes: map[string]*cause{}}
}

// conditions turns a health report into the problems this target follows.
func (a *alerts) conditions(h Health) map[string]condition {
	c := map[string]condition{}
	if a.cfg.Wants(config.EventInbox) {
		for _, in := range h.Inboxes {
			if !in.Healthy {
				c["inbox\x00"+in.Path] = condition{event: config.EventInbox,
					title:    "inbox " + in.Path + " is unreachable",
					resolved: "inbox " + in.Path + " is reachable again",
					detail: fmt.Sprintf("ppsync cannot read the inbox %s: %s\nFiles dropped there wait until it is back; nothing is lost.\n"+
						"Check that the share or disk is mounted and that the service account can read and write it.", in.Path, in.Error),
					threshold: a.cfg.InboxDownAfter.Duration}
			}
		}
	}
	if a.cfg.Wants(config.EventAPI) && h.APIDown {
		c["api"] = condition{event: config.EventAPI, title: "the PerfectParser API is unreachable",
			resolved: "the PerfectParser API answers again",
			detail: "ppsync gets no answer from the PerfectParser API: " + h.APIError + "\nFiles are collected and sent once it answers; nothing is lost.\n" +
				"Check the network, a proxy or firewall, and the API's status page.",
			threshold: a.cfg.APIDownAfter.Duration}
	}
	if a.cfg.Wants(config.EventCredits) {
		var why []string
		if h.Credits != nil && a.cfg.CreditsBelow > 0 && *h.Credits < a.cfg.CreditsBelow {
			why = append(why, fmt.Sprintf("%d credits left, below the threshold of %d", *h.Credits, a.cfg.CreditsBelow))
		}
		if h.RunsOutInDays != nil && a.cfg.RunsOutDaysBelow > 0 && *h.RunsOutInDays < a.cfg.RunsOutDaysBelow {
			burn := ""
			if h.BurnPerDay != nil {
				burn = fmt.Sprintf(" at %.0f credits a day", *h.BurnPerDay)
			}
			why = append(why, fmt.Sprintf("the credits run out in about %.1f days%s, below the threshold of %g days", *h.RunsOutInDays, burn, a.cfg.RunsOutDaysBelow))
		}
		if len(why) > 0 {
			c["credits"] = condition{event: config.EventCredits, title: "PerfectParser credits are running low",
				resolved: "PerfectParser credits are above the thresholds again",
				detail: strings.Join(why, "; ") + ".\nTop up the account in the PerfectParser dashboard; " +
					"when the credits run out, files wait (nothing is lost) and are sent once credits are added."}
		}
	}
	return c
}

// observe follows the problems of h at now and returns the messages due.
func (a *alerts) observe(now time.Time, h Health) []Message {
	var out []Message
	present := a.conditions(h)
	keys := make([]string, 0, len(present))
	for k := range present {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		cond := present[k]
		c, ok := a.causes[k]
		if !ok {
			c = &cause{activeSince: now}
			a.causes[k] = c
		}
		c.cond, c.clearSince = cond, time.Time{}
		switch {
		case !c.notified && now.Sub(c.activeSince) >= cond.threshold:
			c.notified, c.lastSent = true, now
			out = append(out, Message{Event: cond.event, Status: StatusProblem, Title: cond.title, Body: cond.detail +
				sinceLine(c.activeSince, now), At: now})
		case c.notified && now.Sub(c.lastSent) >= a.cfg.Repeat.Duration:
			c.lastSent = now
			out = append(out, Message{Event: cond.event, Status: StatusProblem, Title: "still: " + cond.title, Body: cond.detail +
				sinceLine(c.activeSince, now), At: now})
		}
	}
	gone := make([]string, 0)
	for k := range a.causes {
		if _, ok := present[k]; !ok {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone)
	for _, k := range gone {
		if unknown(k, h) {
			continue // not reported this time: neither present nor gone
		}
		c := a.causes[k]
		if c.clearSince.IsZero() {
			c.clearSince = now
		}
		if now.Sub(c.clearSince) < a.cfg.ResolveAfter.Duration {
			continue
		}
		delete(a.causes, k)
		if c.notified {
			out = append(out, Message{Event: c.cond.event, Status: StatusResolved, Title: c.cond.resolved,
				Body: fmt.Sprintf("%s (the problem lasted %s).", c.cond.resolved, c.clearSince.Sub(c.activeSince).Round(time.Second)), At: now})
		}
	}
	return out
}

// unknown reports whether h says nothing about the problem k: no inbox
// list (the report could not be read), no credit figures.
func unknown(k string, h Health) bool {
	switch {
	case strings.HasPrefix(k, "inbox\x00"):
		return h.Inboxes == nil
	case k == "credits":
		return h.Credits == nil && h.RunsOutInDays == nil
	}
	return false
}

func sinceLine(since, now time.Time) string {
	return fmt.Sprintf("\nSince %s (%s).", since.Format("2006-01-02 15:04"), now.Sub(since).Round(time.Second))
}

// failed adds failures to the next failure message.
func (a *alerts) failed(fs []Failure, more int) {
	if !a.cfg.Wants(config.EventFailures) {
		return
	}
	for _, f := range fs {
		if len(a.pending) == 0 && a.pendingMore == 0 {
			a.firstFailed = f.At
		}
		if len(a.pending) < maxListed {
			a.pending = append(a.pending, f)
		} else {
			a.pendingMore++
		}
	}
	a.pendingMore += more // past the notifier's buffer: counted, never without a file listed first
}

// failures returns the failure message due at now, if any: one for a
// burst, once group_window has passed since its first file, and at most
// one every repeat.
func (a *alerts) failures(now time.Time) (Message, bool) {
	n := len(a.pending) + a.pendingMore
	if n == 0 || now.Sub(a.firstFailed) < a.cfg.GroupWindow.Duration ||
		!a.lastFailMsg.IsZero() && now.Sub(a.lastFailMsg) < a.cfg.Repeat.Duration {
		return Message{}, false
	}
	m := failureMessage(a.pending, a.pendingMore, now)
	a.pending, a.pendingMore, a.lastFailMsg = nil, 0, now
	return m, true
}

func failureMessage(fs []Failure, more int, now time.Time) Message {
	n := len(fs) + more
	title := "1 file failed"
	if n != 1 {
		title = fmt.Sprintf("%d files failed", n)
	}
	var b strings.Builder
	files := make([]string, 0, len(fs))
	fixes := map[string]bool{}
	var fixList []string
	for _, f := range fs {
		files = append(files, f.Path)
		fmt.Fprintf(&b, "- %s: %s", f.Path, f.Reason)
		if f.Code != "" {
			fmt.Fprintf(&b, " (%s)", f.Code)
		}
		b.WriteString("\n")
		if fx := fixFor(f.Code); !fixes[fx] {
			fixes[fx] = true
			fixList = append(fixList, fx)
		}
	}
	if more > 0 {
		fmt.Fprintf(&b, "- and %d more (see 'ppsync status' or the status page)\n", more)
	}
	b.WriteString("\nWhat to do:\n")
	for _, fx := range fixList {
		b.WriteString("- " + fx + "\n")
	}
	b.WriteString("- Each file's <file>.error.json says what went wrong; once fixed, run 'ppsync retry --failed' or drop the file again.\n")
	return Message{Event: config.EventFailures, Status: StatusProblem, Title: title, Body: b.String(), Files: files, At: now}
}

// fixFor says what to do about a failure, by its code: the catalogue's fix
// (docs/errors.md), else a guess from the code's words.
func fixFor(code string) string {
	if e, ok := errcode.Lookup(code); ok {
		return e.Fix
	}
	switch {
	case strings.Contains(code, "INSUFFICIENT_CREDITS") || strings.Contains(code, "CREDIT"):
		return "Top up the credits in the PerfectParser dashboard."
	case strings.Contains(code, "PASSWORD") || strings.Contains(code, "ENCRYPT"):
		return "Remove the password from the PDF and drop it again."
	case strings.Contains(code, "TOO_LARGE") || strings.Contains(code, "SIZE"):
		return "Split or compress the file below the size limit and drop it again."
	case strings.Contains(code, "INVALID") || strings.Contains(code, "CORRUPT") || strings.Contains(code, "UNSUPPORTED"):
		return "Export the file again as a valid PDF (or a supported image) and drop it again."
	case code == "":
		return "Look at the reason above."
	}
	return "Look at the reason above; if it names the API, the file may be retried as it is."
}
