package notify

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ppsync/ppsync/internal/config"
)

// FromConfig resolves and parses every [[notify]] of cfg. getenv is
// os.Getenv in production; client is nil except in tests.
func FromConfig(cfg *config.Config, getenv func(string) string, client *http.Client) ([]Configured, error) {
	var out []Configured
	for i, n := range cfg.Notify {
		raw, err := cfg.ResolveNotifyURL(i, getenv)
		if err != nil {
			return nil, err
		}
		t, err := ParseTarget(raw, client)
		if err != nil {
			return nil, fmt.Errorf("%s: notify[%d] (%s): %w", cfg.File, i, n.Name, err)
		}
		out = append(out, Configured{Config: n, Target: t})
	}
	return out, nil
}

// TestResult is what sending the test message to one target did.
type TestResult struct {
	Name  string
	Where string
	// Err is nil when the target accepted the message; its text has the
	// target's secrets masked.
	Err error
}

// SendTest sends one test message to every target at once, each within
// timeout, and says what happened to each.
func SendTest(ctx context.Context, targets []Configured, host string, timeout time.Duration) []TestResult {
	res := make([]TestResult, len(targets))
	done := make(chan struct{}, len(targets))
	for i, c := range targets {
		go func() {
			defer func() { done <- struct{}{} }()
			tctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			m := Message{Event: "test", Status: StatusInfo, Title: "test message", Host: host, At: time.Now(),
				Body: fmt.Sprintf("This is a test from ppsync's [[notify]] target %q (%s).\nIf you read this, the target works.", c.Config.Name, c.Target.Where)}
			res[i] = TestResult{Name: c.Config.Name, Where: c.Target.Where}
			if err := c.Target.Sender.Send(tctx, m); err != nil {
				res[i].Err = fmt.Errorf("%s", c.Target.Mask(err.Error()))
			}
		}()
	}
	for range targets {
		<-done
	}
	return res
}
