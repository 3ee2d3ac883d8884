package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/ppsync/ppsync/internal/progress"
	"github.com/ppsync/ppsync/internal/report"
)

// progressView is run --once's progress (internal/progress), with the
// names runDaemon wires it by; on a terminal it is the log's writer.
type progressView struct {
	*progress.View
	terminal bool
	log      *slog.Logger // the summary's logger when not on a terminal
}

func newProgressView(out io.Writer, terminal bool) *progressView {
	return &progressView{View: progress.NewView(out, terminal), terminal: terminal}
}

func (v *progressView) run(ctx context.Context, status func() (report.Report, error)) {
	v.Log = v.log
	v.Run(ctx, status)
}

func (v *progressView) clear() { v.Clear() }
