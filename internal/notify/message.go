// Package notify tells people when ppsync needs them: files that failed,
// an inbox or the API unreachable for a while, credits running low, a
// restart after a crash, and a daily digest, sent to the [[notify]]
// targets (e-mail over SMTP, Microsoft Teams, Slack, ntfy, a JSON
// webhook). Sending never holds the pipeline up: each target has its own
// bounded queue and goroutine, retries with back-off, and counts what it
// sent, retried and dropped for /metrics.
package notify

import (
	"fmt"
	"strings"
	"time"
)

// Message statuses.
const (
	StatusProblem  = "problem"
	StatusResolved = "resolved"
	StatusInfo     = "info"
)

// Message is one notification.
type Message struct {
	// Event is a config.Event* name, or "test".
	Event string
	// Status is StatusProblem, StatusResolved or StatusInfo.
	Status string
	Title  string
	// Body is plain text, lines separated by "\n".
	Body string
	// Files are the files a failure message is about.
	Files []string
	At    time.Time
	// Host is the machine ppsync runs on.
	Host string
}

// Subject is the one-line summary: "[ppsync@host] RESOLVED: …".
func (m Message) Subject() string {
	prefix := "[ppsync"
	if m.Host != "" {
		prefix += "@" + m.Host
	}
	prefix += "] "
	if m.Status == StatusResolved {
		prefix += "RESOLVED: "
	}
	return prefix + m.Title
}

// Text is the whole message as plain text (the e-mail body).
func (m Message) Text() string {
	var b strings.Builder
	b.WriteString(m.Body)
	if !strings.HasSuffix(m.Body, "\n") {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n-- \nppsync on %s, %s\n", m.Host, m.At.Format(time.RFC1123Z))
	return b.String()
}
