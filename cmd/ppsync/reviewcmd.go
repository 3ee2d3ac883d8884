package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/ppsync/ppsync/internal/cli"
)

// reviewHelp is the help of 'ppsync review'.
const reviewHelp = "'ppsync review list -c FILE' lists the results held for a person to check (oldest first), with why.\n" +
	"'ppsync review show ID' prints one with the API's answer; 'ppsync review approve ID [--set field=value]... [--note TEXT]'\n" +
	"delivers it (<file>.json, the ledger) with the corrections; 'ppsync review approve ID --not-duplicate' approves a\n" +
	"probable duplicate; 'ppsync review reject ID --note TEXT' writes an error file REJECTED_IN_REVIEW. Nothing is sent\n" +
	"to the API again. It talks to the running daemon. See docs/review.md."

// runReview is 'ppsync review list|show|approve|reject'.
func (m *Main) runReview(ctx context.Context, args []string) error {
	sub, rest, err := m.action("review", args, []string{"list", "show", "approve", "reject"},
		"Usage: ppsync review list|show|approve|reject -c FILE [ID] [--set field=value]... [--note TEXT] [--not-duplicate]\n", true)
	if errors.Is(err, cli.ErrUsage) && len(args) > 0 {
		return fmt.Errorf("review: unknown action %q: use list, show, approve or reject", args[0])
	}
	if err != nil {
		return err
	}
	fs := m.flags("review "+sub, "review "+sub+" -c FILE [ID] [--set field=value]... [--note TEXT]")
	load := m.configFlag(fs, "config file (required)")
	r := cli.ReviewRequest{Action: sub, Set: cli.Fields{}}
	fs.BoolVar(&r.JSON, "json", false, "print JSON")
	fs.StringVar(&r.Note, "note", "", "a note kept with the decision (the message of a rejection)")
	fs.BoolVar(&r.NotDuplicate, "not-duplicate", false, "approve: the result is not a duplicate")
	fs.Var(r.Set, "set", "approve: correct a field, field=value (repeat for more)")
	rest, err = cli.ParseArgs(fs, rest)
	if err != nil {
		return err
	}
	switch {
	case sub == "list" && len(rest) > 0:
		fs.Usage()
		return fmt.Errorf("review list takes no ID")
	case sub != "list" && len(rest) != 1:
		fs.Usage()
		return fmt.Errorf("review %s: name one result by its ID (see 'ppsync review list')", sub)
	case sub != "list":
		r.ID = rest[0]
	}
	if sub != "approve" && (len(r.Set) > 0 || r.NotDuplicate) {
		return fmt.Errorf("review %s: --set and --not-duplicate go with approve", sub)
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	return m.console().Review(ctx, cfg, r)
}

// action takes the first argument of 'ppsync GROUP ACTION ...' when it is
// one of actions (cli.Action); --help adds the group's summary, and its
// help when withHelp.
func (m *Main) action(group string, args, actions []string, usage string, withHelp bool) (string, []string, error) {
	about, help := m.about(group)
	if withHelp {
		about += "\n\n" + help
	}
	return cli.Action(m.Stderr, args, actions, usage, about)
}
