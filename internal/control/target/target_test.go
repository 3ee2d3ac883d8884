package target_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/ppsync/ppsync/internal/admin"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/control/offline"
	"github.com/ppsync/ppsync/internal/control/target"
)

func configWith(t *testing.T, listen string) *config.Config {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "inbox"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(root, "ppsync.toml"), fmt.Appendf(nil, `
[api]
api_key = "pp_test_target"
[admin]
listen = %q
[[inbox]]
path = "inbox"
parser_id = "prs_invoice"
`, listen))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// With [admin] listen "off" no daemon is asked and nothing says why; with
// nobody at the address the state answers and Why says the daemon did not;
// another program at the address is an error, not a fallback.
func TestOfFallsBackToTheState(t *testing.T) {
	ctx := context.Background()
	off, err := target.Of(ctx, configWith(t, "off"), nil, nil)
	if _, isOffline := off.Control.(*offline.Offline); err != nil || !isOffline || off.Running() || off.Why != nil {
		t.Fatalf("listen off: %+v, %v; want offline with no reason", off, err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	gone, err := target.Of(ctx, configWith(t, addr), nil, nil)
	if _, isOffline := gone.Control.(*offline.Offline); err != nil || !isOffline || gone.Running() || !errors.Is(gone.Why, admin.ErrNoDaemon) {
		t.Fatalf("nobody at %s: %+v, %v; want offline, Why = ErrNoDaemon", addr, gone, err)
	}

	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"config":"/somewhere/else.toml"}`)
	}))
	defer other.Close()
	if got, err := target.Of(ctx, configWith(t, other.Listener.Addr().String()), nil, nil); err == nil {
		t.Fatalf("another program at the admin address: %+v, want an error", got)
	}
}
