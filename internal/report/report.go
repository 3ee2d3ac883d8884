// Package report is the status of a ppsync installation: files by state
// per inbox, the last errors, credits, the last poll, and its text form.
// The daemon serves it live; control/store counts it from the state file
// (which this package never reads).
package report

import (
	"time"
)

// Report is the JSON of `ppsync status --json` and of /status.
type Report struct {
	Daemon            Daemon `json:"daemon"`
	Service           string `json:"service,omitempty"`
	CreditsAvailable  *int   `json:"credits_available,omitempty"`
	WaitingForCredits bool   `json:"waiting_for_credits"`
	// CreditWaits are the queued files held back because their document
	// needs more credits than are available, while smaller files go ahead
	// (live only).
	CreditWaits       []CreditWait `json:"credit_waits,omitempty"`
	LastPoll          time.Time    `json:"last_poll,omitzero"`
	LastPollError     string       `json:"last_poll_error,omitempty"`
	JobsInFlight      int          `json:"jobs_in_flight"`
	QueueDepth        int          `json:"queue_depth"`
	ResultWriteErrors int64        `json:"result_write_errors"`
	State             StateInfo    `json:"state"`
	Webhook           *Webhook     `json:"webhook,omitempty"`
	// Faults are what keeps the daemon from working normally beyond a
	// single inbox (the API unreachable, the state file not writable); a
	// daemon with faults is not healthy.
	Faults  []string `json:"faults,omitempty"`
	Inboxes []Inbox  `json:"inboxes"`
	// Review is the review queue (live only; review.go).
	Review *Review `json:"review,omitempty"`
}

// Webhook is the webhook receiver's picture.
type Webhook struct {
	WebhookID string `json:"webhook_id,omitempty"`
	URL       string `json:"url"`
	Listen    string `json:"listen"`
	Verified  int64  `json:"deliveries_verified"`
	Rejected  int64  `json:"deliveries_rejected"`
	Dropped   int64  `json:"deliveries_dropped"`
	LastTest  string `json:"last_test,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Daemon says whether a daemon answered, and which.
type Daemon struct {
	Running bool      `json:"running"`
	PID     int       `json:"pid,omitempty"`
	Version string    `json:"version,omitempty"`
	Started time.Time `json:"started,omitzero"`
	// Config and InstanceID identify the daemon that answered.
	Config     string `json:"config,omitempty"`
	InstanceID string `json:"instance_id,omitempty"`
}

// StateInfo describes the state file.
type StateInfo struct {
	Path   string `json:"path"`
	Schema int    `json:"schema"`
}

// Inbox is one inbox's picture.
type Inbox struct {
	Path     string    `json:"path"`
	ParserID string    `json:"parser_id"`
	Watch    string    `json:"watch"`
	Healthy  *bool     `json:"healthy,omitempty"`
	Error    string    `json:"error,omitempty"`
	LastScan time.Time `json:"last_scan,omitzero"`
	Settling int       `json:"settling"`
	// Incomplete are settling files still empty or without %%EOF.
	Incomplete int            `json:"incomplete"`
	Rescans    int            `json:"rescans"`
	Overflows  int            `json:"overflows"`
	Files      map[string]int `json:"files"`
	// LastErrors are the most recent files without a result, newest first.
	LastErrors []FileError `json:"last_errors"`
	// WatchReason says why the inbox is watched as Watch says (a network
	// filesystem polled from the start...) and how often it is listed.
	WatchReason string `json:"watch_reason,omitempty"`
}

// CreditWait is a queued file whose document needs more credits than are
// available: it waits for a top-up.
type CreditWait struct {
	Path      string `json:"path"`
	Inbox     string `json:"inbox"`
	Needs     int    `json:"needs"`
	Available int    `json:"available"`
}

// FileError is a file that did not get a result.
type FileError struct {
	Path   string    `json:"path"`
	State  string    `json:"state"`
	Code   string    `json:"code,omitempty"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// File states as the report counts them.
const (
	Queued         = "queued"
	WaitingCredits = "waiting_for_credits"
	InFlight       = "in_flight"
	Done           = "done"
	Failed         = "failed"
	Invalid        = "refused"
	Gone           = "deleted"
)

// States lists every counted state, in display order.
var States = []string{Queued, WaitingCredits, InFlight, Done, Failed, Invalid, Gone}

// MaxErrors is how many of an inbox's last errors a report lists.
const MaxErrors = 10
