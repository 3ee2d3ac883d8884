package notify

import (
	"github.com/ppsync/ppsync/internal/activity"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/state"
)

// HookSource is the source a Hook gives its notifier.
func HookSource(st *state.Store, rec *activity.Recorder, status func() (report.Report, error), apiFault func() string) Source {
	return &hookSource{st: st, rec: rec, status: status, apiFault: apiFault}
}
