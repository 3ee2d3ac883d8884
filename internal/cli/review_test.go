package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/finish"
	"github.com/ppsync/ppsync/internal/review"
)

type fakeReview struct {
	list     admin.ReviewList
	item     finish.HeldItem
	err      error
	approved *bool
	decision admin.ReviewDecision
}

func (f *fakeReview) ReviewList(context.Context) (admin.ReviewList, error) { return f.list, f.err }
func (f *fakeReview) ReviewShow(_ context.Context, id string) (finish.HeldItem, error) {
	if id != f.item.ID {
		return finish.HeldItem{}, errors.New("no such id")
	}
	return f.item, f.err
}
func (f *fakeReview) ReviewDecide(_ context.Context, id string, approve bool, d admin.ReviewDecision) (admin.ReviewAnswer, error) {
	f.approved, f.decision = &approve, d
	return admin.ReviewAnswer{Output: "/in/" + id + ".json"}, f.err
}

func TestReview(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	item := finish.HeldItem{ID: "r1", File: "/in/a.pdf", Held: "/in/a.pdf.review.json", HeldAt: now.Add(-90 * time.Second),
		Reasons: []review.Reason{{Rule: "total", Message: "over 1000"}}, Document: json.RawMessage(`{"extracted_data":{"total":"1250"}}`)}
	list := admin.ReviewList{Count: 1, Items: []finish.HeldItem{item}}
	for _, c := range []struct {
		name string
		req  ReviewRequest
		f    fakeReview
		want []string
		err  string
	}{
		{"list", ReviewRequest{Action: "list"}, fakeReview{list: list},
			[]string{"r1  /in/a.pdf  held 1m30s ago  total: over 1000\n", "1 result to review\n"}, ""},
		{"empty list", ReviewRequest{Action: "list"}, fakeReview{}, []string{"nothing to review\n"}, ""},
		{"list as JSON", ReviewRequest{Action: "list", JSON: true}, fakeReview{list: list}, []string{"{\n  \"count\": 1,", "\"id\": \"r1\""}, ""},
		{"show", ReviewRequest{Action: "show", ID: "r1"}, fakeReview{item: item},
			[]string{"id:      r1\nfile:    /in/a.pdf\nheld:    /in/a.pdf.review.json (2026-03-01T11:58:30Z)\nreasons: total: over 1000\n", "1250"}, ""},
		{"approve", ReviewRequest{Action: "approve", ID: "r1", Set: Fields{"total": "1300"}}, fakeReview{}, []string{"approved: /in/r1.json written\n"}, ""},
		{"reject", ReviewRequest{Action: "reject", ID: "r1", Note: "blurred"}, fakeReview{}, []string{"rejected: /in/r1.json written (" + review.CodeRejected + ")\n"}, ""},
		{"daemon gone", ReviewRequest{Action: "list"}, fakeReview{err: admin.ErrNoDaemon}, nil, admin.ErrNoDaemon.Error()},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			f := c.f
			err := reviewAt(t.Context(), &out, &f, c.req, now)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || out.Len() > 0 {
					t.Errorf("error %v, printed %q; want %q and nothing printed", err, out.String(), c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("printed %q, want it to contain %q", out.String(), w)
				}
			}
			if c.req.Action == "approve" || c.req.Action == "reject" {
				if f.approved == nil || *f.approved != (c.req.Action == "approve") || !maps.Equal(f.decision.Set, c.req.Set) || f.decision.Note != c.req.Note || f.decision.By == "" {
					t.Errorf("decision sent: approve %v, %+v; want %s with %+v", f.approved, f.decision, c.req.Action, c.req)
				}
			}
		})
	}
}

func TestFields(t *testing.T) {
	f := Fields{}
	for _, v := range []string{"total_amount=1250.75", " vendor =Acme=Co", "note="} {
		if err := f.Set(v); err != nil {
			t.Fatalf("Set(%q): %v", v, err)
		}
	}
	if want := (Fields{"total_amount": "1250.75", "vendor": "Acme=Co", "note": ""}); !maps.Equal(f, want) {
		t.Errorf("fields %v, want %v", f, want)
	}
	for _, v := range []string{"total", "=5", " =5"} {
		if err := f.Set(v); err == nil || !strings.Contains(err.Error(), "field=value") {
			t.Errorf("Set(%q) = %v, want an error showing field=value", v, err)
		}
	}
}
