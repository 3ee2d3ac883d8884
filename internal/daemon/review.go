package daemon

import (
	"context"
	"os"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/finish"
)

// The running daemon answers the admin endpoint's review routes.
var _ admin.Reviewer = (*liveSource)(nil)

// ReviewQueue lists the results waiting for review, oldest first.
func (l *liveSource) ReviewQueue() []finish.HeldItem { return l.fin.Held() }

// ReviewItem is one held result with the API's answer.
func (l *liveSource) ReviewItem(id string) (finish.HeldItem, error) { return l.fin.HeldDocument(id) }

// Approve delivers a held result with corrections.
func (l *liveSource) Approve(ctx context.Context, id string, d finish.Decision) (string, error) {
	return l.fin.Approve(ctx, id, d)
}

// Reject turns a held result into a REJECTED_IN_REVIEW error file.
func (l *liveSource) Reject(ctx context.Context, id string, d finish.Decision) (string, error) {
	return l.fin.Reject(ctx, id, d)
}

// ReviewOriginal opens a held result's source file.
func (l *liveSource) ReviewOriginal(id string) (*os.File, error) { return l.fin.OpenOriginal(id) }
