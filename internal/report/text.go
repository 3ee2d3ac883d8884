package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ppsync/ppsync/internal/errcode"
)

// WriteText prints the report for a person; adminListen is the config's
// [admin] listen, or the endpoint's URL ("https://host:port").
func (r Report) WriteText(w io.Writer, adminListen string) {
	if r.Daemon.Running {
		fmt.Fprintf(w, "ppsync %s is running (pid %d, up %s)\n", r.Daemon.Version, r.Daemon.PID, time.Since(r.Daemon.Started).Round(time.Second))
	} else {
		fmt.Fprintln(w, "ppsync is not running (figures below are from the state file)")
	}
	fmt.Fprintf(w, "service:   %s\n", r.Service)
	if adminListen != "off" {
		url := adminListen
		if !strings.Contains(url, "://") {
			url = "http://" + url
		}
		fmt.Fprintf(w, "admin:     %s/ (status page; [admin] listen)\n", url)
	}
	if r.CreditsAvailable != nil {
		fmt.Fprintf(w, "credits:   %d", *r.CreditsAvailable)
		if r.WaitingForCredits {
			fmt.Fprint(w, " (submissions are WAITING for credits: buy more in the PerfectParser dashboard)")
		}
		fmt.Fprintln(w)
	}
	for i, cw := range r.CreditWaits {
		if i == MaxErrors {
			fmt.Fprintf(w, "           … and %d more files waiting for credits\n", len(r.CreditWaits)-i)
			break
		}
		fmt.Fprintf(w, "  waiting: %s needs %d credits, %d available (smaller files go ahead; it goes when credits are added)\n",
			cw.Path, cw.Needs, cw.Available)
	}
	if r.Daemon.Running {
		last := "never"
		if !r.LastPoll.IsZero() {
			last = time.Since(r.LastPoll).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(w, "last poll: %s", last)
		if r.LastPollError != "" {
			fmt.Fprintf(w, " (last error: %s)", r.LastPollError)
		}
		fmt.Fprintf(w, "; %d jobs in flight, %d documents queued\n", r.JobsInFlight, r.QueueDepth)
	}
	r.writeReview(w)
	for _, f := range r.Faults {
		fmt.Fprintf(w, "FAULT:     %s\n", f)
	}
	if r.State.Schema == 0 {
		fmt.Fprintf(w, "state:     %s (not created yet; the service creates it)\n", r.State.Path)
	} else {
		fmt.Fprintf(w, "state:     %s (schema %d)\n", r.State.Path, r.State.Schema)
	}
	for _, in := range r.Inboxes {
		health := ""
		if in.Healthy != nil {
			health = ", healthy"
			if !*in.Healthy {
				health = ", UNREACHABLE: " + in.Error
			}
		}
		fmt.Fprintf(w, "\ninbox %s (parser %s, watch %s%s)\n", in.Path, in.ParserID, in.Watch, health)
		if in.WatchReason != "" {
			fmt.Fprintf(w, "  watching: %s\n", in.WatchReason)
		}
		if in.Settling > 0 {
			fmt.Fprintf(w, "  %s still being written", plural(in.Settling, "file"))
			if in.Incomplete > 0 {
				fmt.Fprintf(w, " (%d empty or without %%%%EOF: an interrupted copy or scan?)", in.Incomplete)
			}
			fmt.Fprintln(w)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		var heads, vals []string
		for _, s := range States {
			heads = append(heads, strings.ReplaceAll(s, "_", " "))
			vals = append(vals, fmt.Sprint(in.Files[s]))
		}
		fmt.Fprintln(tw, "  "+strings.Join(heads, "\t"))
		fmt.Fprintln(tw, "  "+strings.Join(vals, "\t"))
		tw.Flush()
		if len(in.LastErrors) > 0 {
			fmt.Fprintln(w, "  last problems:")
			for _, e := range in.LastErrors {
				fmt.Fprintf(w, "    %s  %s: %s %s\n", e.At.Local().Format("2006-01-02 15:04"), e.Path, e.Code, e.Reason)
			}
			writeFixes(w, in.LastErrors)
		}
	}
}

// writeFixes prints, once per code of errs, what the catalogue of codes
// says to do about it (docs/errors.md).
func writeFixes(w io.Writer, errs []FileError) {
	seen := map[string]bool{}
	head := false
	for _, e := range errs {
		c, ok := errcode.Lookup(e.Code)
		if !ok || seen[c.Code] {
			continue
		}
		seen[c.Code] = true
		if !head {
			fmt.Fprintln(w, "  what to do:")
			head = true
		}
		fmt.Fprintf(w, "    %s (charged: %s): %s\n", c.Code, c.ChargedText(), c.Fix)
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
