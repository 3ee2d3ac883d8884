package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/cli"
	"github.com/ppsync/ppsync/internal/review"
)

// reviewHelp is the help of 'ppsync review'.
const reviewHelp = "'ppsync review list -c FILE' lists the results held for a person to check (oldest first), with why.\n" +
	"'ppsync review show ID' prints one with the API's answer; 'ppsync review approve ID [--set field=value]... [--note TEXT]'\n" +
	"delivers it (<file>.json, the ledger) with the corrections; 'ppsync review approve ID --not-duplicate' approves a\n" +
	"probable duplicate; 'ppsync review reject ID --note TEXT' writes an error file REJECTED_IN_REVIEW. Nothing is sent\n" +
	"to the API again. It talks to the running daemon. See docs/review.md."

// setFlags collects repeated --set field=value.
type setFlags map[string]string

func (s setFlags) String() string { return fmt.Sprint(map[string]string(s)) }

func (s setFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("--set %q: write it as field=value, e.g. --set total_amount=1250.75", v)
	}
	s[strings.TrimSpace(k)] = val
	return nil
}

// runReview is 'ppsync review list|show|approve|reject'.
func (m *Main) runReview(ctx context.Context, args []string) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "list", "show", "approve", "reject":
	default:
		fmt.Fprintln(m.Stderr, "Usage: ppsync review list|show|approve|reject -c FILE [ID] [--set field=value]... [--note TEXT] [--not-duplicate]")
		if sub == "-h" || sub == "--help" {
			about, help := m.about("review")
			fmt.Fprintf(m.Stderr, "\n%s\n\n%s\n", about, help)
			return flag.ErrHelp
		}
		if sub != "" {
			return fmt.Errorf("review: unknown action %q: use list, show, approve or reject", sub)
		}
		return cli.ErrUsage
	}
	fs := m.flags("review "+sub, "review "+sub+" -c FILE [ID] [--set field=value]... [--note TEXT]")
	cfgPath := fs.String("c", "", "config file (required)")
	jsonOut := fs.Bool("json", false, "print JSON")
	note := fs.String("note", "", "a note kept with the decision (the message of a rejection)")
	notDup := fs.Bool("not-duplicate", false, "approve: the result is not a duplicate")
	set := setFlags{}
	fs.Var(set, "set", "approve: correct a field, field=value (repeat for more)")
	rest, err := cli.ParseArgs(fs, args)
	if err != nil {
		return err
	}
	id := ""
	switch {
	case sub == "list" && len(rest) > 0:
		fs.Usage()
		return fmt.Errorf("review list takes no ID")
	case sub != "list" && len(rest) != 1:
		fs.Usage()
		return fmt.Errorf("review %s: name one result by its ID (see 'ppsync review list')", sub)
	case sub != "list":
		id = rest[0]
	}
	if sub != "approve" && (len(set) > 0 || *notDup) {
		return fmt.Errorf("review %s: --set and --not-duplicate go with approve", sub)
	}
	cfg, err := m.requireConfig(fs, *cfgPath)
	if err != nil {
		return err
	}
	c := admin.NewClient(cfg)
	if c == nil {
		return fmt.Errorf("review: the admin endpoint is off in %s ([admin] listen = \"off\"): the review queue is served by the running daemon", cfg.File)
	}
	noDaemon := func(err error) error {
		if errors.Is(err, admin.ErrNoDaemon) {
			return fmt.Errorf("review: %w; start it ('ppsync run -c %s' or the service): the review queue is served by the running daemon", err, cfg.File)
		}
		return err
	}
	switch sub {
	case "list":
		l, err := c.ReviewList(ctx)
		if err != nil {
			return noDaemon(err)
		}
		if *jsonOut {
			return printJSON(m, l)
		}
		if l.Count == 0 {
			fmt.Fprintln(m.Stdout, "nothing to review")
			return nil
		}
		for _, it := range l.Items {
			fmt.Fprintf(m.Stdout, "%s  %s  held %s ago  %s\n", it.ID, it.File, time.Since(it.HeldAt).Round(time.Second), review.ReasonsText(it.Reasons))
		}
		fmt.Fprintf(m.Stdout, "%s to review\n", cli.Plural(l.Count, "result"))
		return nil
	case "show":
		it, err := c.ReviewShow(ctx, id)
		if err != nil {
			return noDaemon(err)
		}
		if *jsonOut {
			return printJSON(m, it)
		}
		fmt.Fprintf(m.Stdout, "id:      %s\nfile:    %s\nheld:    %s (%s)\nreasons: %s\n", it.ID, it.File, it.Held, it.HeldAt.Format(time.RFC3339), review.ReasonsText(it.Reasons))
		fmt.Fprint(m.Stdout, review.DocumentText(it.Document))
		return nil
	}
	ans, err := c.ReviewDecide(ctx, id, sub == "approve", admin.ReviewDecision{Set: set, Note: *note, NotDuplicate: *notDup, By: review.Reviewer()})
	if err != nil {
		return noDaemon(err)
	}
	if sub == "approve" {
		fmt.Fprintf(m.Stdout, "approved: %s written\n", ans.Output)
	} else {
		fmt.Fprintf(m.Stdout, "rejected: %s written (%s)\n", ans.Output, review.CodeRejected)
	}
	return nil
}

func printJSON(m *Main, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "%s\n", b)
	return nil
}
