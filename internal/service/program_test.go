package service_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/service"
)

// A service whose daemon stops on its own ends the process with a
// failure, so that the service manager restarts it, instead of reporting
// "running" while doing nothing.
func TestServiceProgramExitsWhenDaemonStops(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stopped bool // Stop asked for it
	}{
		{"daemon dies on its own", false},
		{"stopped by the manager", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exited := make(chan int, 1)
			runErr := errors.New("bad key")
			p := &service.Program{
				Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Run: func(ctx context.Context) error {
					if tc.stopped {
						<-ctx.Done()
						return nil
					}
					return runErr
				},
				Exit: func(code int) { exited <- code },
			}
			if err := p.Start(nil); err != nil {
				t.Fatal(err)
			}
			if tc.stopped {
				// Stop returns once the daemon has returned, after any exit call.
				if err := p.Stop(nil); err != nil {
					t.Fatalf("stop: %v", err)
				}
				select {
				case code := <-exited:
					t.Fatalf("exit(%d) after a requested stop", code)
				default:
				}
				return
			}
			select {
			case code := <-exited:
				if code != 2 {
					t.Fatalf("exit(%d), want 2 (could not run)", code)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the process did not end after its daemon stopped")
			}
		})
	}
}
