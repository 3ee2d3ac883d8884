package store

import (
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/uploader"
)

// Retry marks the failed or refused files among paths (or, with failed,
// every failed or refused one) to be sent through again, and returns them.
func Retry(st *state.Store, req control.RetryRequest) (control.RetryAnswer, error) {
	done, err := uploader.MarkRetry(st, req.Paths, req.Failed)
	return control.RetryAnswer{Retried: done}, err
}

// PlanReprocess says what processing paths again sends and costs; nothing
// changes.
func PlanReprocess(st *state.Store, paths []string) (control.ReprocessAnswer, error) {
	p, err := uploader.PlanReprocess(st, paths)
	if err != nil {
		return control.ReprocessAnswer{}, err
	}
	return control.ReprocessAnswer{Files: p.Files, Pages: p.Pages, Unknown: p.Unknown, Skipped: p.Skipped, Reprocessed: []string{}}, nil
}

// Reprocess plans paths and marks the files the plan applies to: each is
// sent again under a new idempotency key, and charged again.
func Reprocess(st *state.Store, paths []string) (control.ReprocessAnswer, error) {
	ans, err := PlanReprocess(st, paths)
	if err != nil || len(ans.Files) == 0 {
		return ans, err
	}
	done, err := uploader.MarkReprocess(st, ans.Files)
	if err != nil {
		return ans, err
	}
	if done != nil {
		ans.Reprocessed = done
	}
	return ans, nil
}
