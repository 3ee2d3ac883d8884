package daemon

import (
	"context"
	"log/slog"
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

// recoverReviews rebuilds the review queue and the duplicate index from the
// files on disk before any result is written; an inbox that cannot be read
// now is logged, and its held results are listed once a file of it is seen
// again.
func recoverReviews(ctx context.Context, fin *finish.Finisher, log *slog.Logger) {
	if err := fin.RecoverReviews(ctx); err != nil {
		log.Warn("cannot read every held result at start; those are listed when their files are seen again", "error", err)
	}
	if n := len(fin.Held()); n > 0 {
		log.Info("results wait for review ('ppsync review list', or the status page)", "held", n)
	}
}
