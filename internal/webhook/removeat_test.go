package webhook_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/webhook"
)

// RemoveAt refuses a state a running ppsync holds, saying to stop it, and
// otherwise deletes the registered subscription and forgets it.
func TestRemoveAtLockedThenRemoves(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := webhook.Ensure(ctx, e.c, st, "https://example.invalid/hook", []string{apitypes.EventJobCompleted}, "", e.log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := webhook.RemoveAt(ctx, e.c, path); err == nil || !strings.Contains(err.Error(), "ppsync is running and holds "+path+": stop it first") {
		t.Fatalf("RemoveAt on a held state = %v, want it to say stop ppsync first", err)
	}
	st.Close()
	if id, err := webhook.RemoveAt(ctx, e.c, path); err != nil || id != reg.WebhookID {
		t.Fatalf("RemoveAt = %q, %v, want %q", id, err, reg.WebhookID)
	}
	if ids := e.hookIDs(t); len(ids) != 0 {
		t.Fatalf("subscriptions %v left after RemoveAt", ids)
	}
	if id, err := webhook.RemoveAt(ctx, e.c, path); err != nil || id != "" {
		t.Fatalf("second RemoveAt = %q, %v, want nothing registered", id, err)
	}
}
