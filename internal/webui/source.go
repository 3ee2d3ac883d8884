package webui

import (
	"github.com/ppsync/ppsync/internal/control"
	"github.com/ppsync/ppsync/internal/report"
)

// ErrNotFound means no file with that path is tracked.
var ErrNotFound = control.ErrNotFound

// Reader is the read side of the page: what the state knows of each file
// (control/store's Files reads it from the state file).
type Reader = control.Files

// Live is the installation the page acts on: its status (the same data as
// `ppsync status --json`), retry and process again. The daemon gives its
// own (see control.Control).
type Live = control.Control

// The page's data types are control's.
type (
	Query      = control.Query
	Row        = control.Row
	Page       = control.Page
	Event      = control.Event
	FileDetail = control.FileDetail
	Fix        = control.Fix
	Estimate   = control.Estimate
	InboxInfo  = control.InboxInfo
)

// withFix explains a failed or refused file's failure in plain words.
func withFix(fd FileDetail) FileDetail {
	if fd.State == report.Failed || fd.State == report.Invalid {
		fix := fixFor(fd.Code, fd.Reason, fd.State == report.Invalid)
		fd.Fix = &fix
	}
	return fd
}
