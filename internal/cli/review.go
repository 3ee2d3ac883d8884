package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/review"
)

// Fields collects repeated --set field=value.
type Fields map[string]string

func (s Fields) String() string { return fmt.Sprint(map[string]string(s)) }

// Set takes one field=value.
func (s Fields) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("--set %q: write it as field=value, e.g. --set total_amount=1250.75", v)
	}
	s[strings.TrimSpace(k)] = val
	return nil
}

// ReviewRequest is one 'ppsync review' action: list, show, approve or
// reject (ID for all but list).
type ReviewRequest struct {
	Action string
	ID     string
	JSON   bool
	// Set, Note and NotDuplicate are the decision (approve, reject).
	Set          Fields
	Note         string
	NotDuplicate bool
}

// reviewClient is what the review command asks of the running daemon
// (*admin.Client).
type reviewClient interface {
	ReviewList(ctx context.Context) (admin.ReviewList, error)
	ReviewShow(ctx context.Context, id string) (finish.HeldItem, error)
	ReviewDecide(ctx context.Context, id string, approve bool, d admin.ReviewDecision) (admin.ReviewAnswer, error)
}

// Review is 'ppsync review': it asks cfg's running daemon, which serves
// the review queue.
func (c Console) Review(ctx context.Context, cfg *config.Config, r ReviewRequest) error {
	client := admin.NewClient(cfg)
	if client == nil {
		return fmt.Errorf("review: the admin endpoint is off in %s ([admin] listen = \"off\"): the review queue is served by the running daemon", cfg.File)
	}
	err := reviewAt(ctx, c.Stdout, client, r, time.Now())
	if errors.Is(err, admin.ErrNoDaemon) {
		return fmt.Errorf("review: %w; start it ('ppsync run -c %s' or the service): the review queue is served by the running daemon", err, cfg.File)
	}
	return err
}

func reviewAt(ctx context.Context, out io.Writer, c reviewClient, r ReviewRequest, now time.Time) error {
	switch r.Action {
	case "list":
		l, err := c.ReviewList(ctx)
		if err != nil || r.JSON {
			return jsonOr(out, l, err)
		}
		if l.Count == 0 {
			fmt.Fprintln(out, "nothing to review")
			return nil
		}
		for _, it := range l.Items {
			fmt.Fprintf(out, "%s  %s  held %s ago  %s\n", it.ID, it.File, now.Sub(it.HeldAt).Round(time.Second), review.ReasonsText(it.Reasons))
		}
		fmt.Fprintf(out, "%s to review\n", Plural(l.Count, "result"))
		return nil
	case "show":
		it, err := c.ReviewShow(ctx, r.ID)
		if err != nil || r.JSON {
			return jsonOr(out, it, err)
		}
		fmt.Fprintf(out, "id:      %s\nfile:    %s\nheld:    %s (%s)\nreasons: %s\n", it.ID, it.File, it.Held, it.HeldAt.Format(time.RFC3339), review.ReasonsText(it.Reasons))
		fmt.Fprint(out, review.DocumentText(it.Document))
		return nil
	}
	approve := r.Action == "approve"
	ans, err := c.ReviewDecide(ctx, r.ID, approve, admin.ReviewDecision{Set: r.Set, Note: r.Note, NotDuplicate: r.NotDuplicate, By: review.Reviewer()})
	if err != nil {
		return err
	}
	if approve {
		fmt.Fprintf(out, "approved: %s written\n", ans.Output)
	} else {
		fmt.Fprintf(out, "rejected: %s written (%s)\n", ans.Output, review.CodeRejected)
	}
	return nil
}

// jsonOr is err, or else v written as indented JSON.
func jsonOr(out io.Writer, v any, err error) error {
	if err != nil {
		return err
	}
	return WriteJSON(out, v)
}
