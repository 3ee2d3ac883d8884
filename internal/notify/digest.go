package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/config"
)

// digest builds the daily digest: yesterday's documents, pages and
// credits spent, its failures and why, the credits left and the forecast,
// and each inbox's health.
func (n *Notifier) digest(now time.Time, h Health) Message {
	y, mo, d := now.Date()
	to := time.Date(y, mo, d, 0, 0, 0, 0, now.Location())
	from := time.Date(y, mo, d-1, 0, 0, 0, 0, now.Location())
	day := from.Format(time.DateOnly)
	n.mu.Lock()
	var c dayCount
	if dc := n.days[day]; dc != nil {
		c = *dc
	}
	n.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "Yesterday (%s):\n", day)
	fmt.Fprintf(&b, "- documents processed: %d\n", c.docs)
	fmt.Fprintf(&b, "- pages: %d\n", c.pages)
	fmt.Fprintf(&b, "- credits spent: %d\n", c.pages)
	if n.o.Started.After(from) {
		fmt.Fprintf(&b, "  (counted since ppsync started at %s)\n", n.o.Started.Format("2006-01-02 15:04"))
	}
	fs, total, err := n.o.Source.FailedBetween(from, to, maxListed)
	switch {
	case err != nil:
		fmt.Fprintf(&b, "- failures: unknown (cannot read the state: %v)\n", err)
	default:
		fmt.Fprintf(&b, "- failures: %d\n", total)
		for _, f := range fs {
			fmt.Fprintf(&b, "  - %s: %s", f.Path, f.Reason)
			if f.Code != "" {
				fmt.Fprintf(&b, " (%s)", f.Code)
			}
			b.WriteString("\n")
		}
		if total > len(fs) {
			fmt.Fprintf(&b, "  - and %d more (see 'ppsync status')\n", total-len(fs))
		}
	}
	b.WriteString("\nCredits:\n")
	if h.Credits != nil {
		fmt.Fprintf(&b, "- left: %d\n", *h.Credits)
	} else {
		b.WriteString("- left: unknown (the API has not answered yet)\n")
	}
	switch {
	case h.RunsOutInDays != nil && h.BurnPerDay != nil:
		fmt.Fprintf(&b, "- forecast: they run out in about %.1f days at %.0f credits a day\n", *h.RunsOutInDays, *h.BurnPerDay)
	case h.BurnPerDay != nil:
		b.WriteString("- forecast: nothing spent lately\n")
	default:
		b.WriteString("- forecast: not enough history yet\n")
	}
	b.WriteString("\nInboxes:\n")
	for _, in := range h.Inboxes {
		if in.Healthy {
			fmt.Fprintf(&b, "- %s: healthy\n", in.Path)
		} else {
			fmt.Fprintf(&b, "- %s: UNREACHABLE: %s\n", in.Path, in.Error)
		}
	}
	if h.APIDown {
		fmt.Fprintf(&b, "\nThe PerfectParser API is unreachable: %s\n", h.APIError)
	}
	return Message{Event: config.EventDigest, Status: StatusInfo,
		Title: fmt.Sprintf("daily digest for %s: %d documents, %d failed", day, c.docs, total), Body: b.String(), At: now}
}
