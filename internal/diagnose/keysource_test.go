package diagnose_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/diagnose"
	"github.com/ppsync/ppsync/internal/uploader"
)

// A refused key's error says where the key came from and what to do,
// never the key; other errors pass unchanged.
func TestWithKeySource(t *testing.T) {
	cfg := &config.Config{File: "/etc/ppsync/config.toml"}
	cfg.API.APIKeyFile = "/etc/ppsync/key"
	cfg.API.APIKey = ""
	other := errors.New("disk full")
	for _, tc := range []struct {
		name    string
		err     error
		refused bool
	}{
		{"401", &api.Error{Op: "GET /v1/me", StatusCode: 401, Code: "UNAUTHORIZED", Message: "bad key"}, true},
		{"403", fmt.Errorf("wrapped: %w", &api.Error{Op: "GET /v1/me", StatusCode: 403, Code: "FORBIDDEN"}), true},
		{"uploader", fmt.Errorf("inbox a: %w", uploader.ErrUnauthorized), true},
		{"500", &api.Error{Op: "GET /v1/me", StatusCode: 500, Code: "INTERNAL"}, false},
		{"other", other, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := diagnose.WithKeySource(tc.err, cfg, func(string) string { return "" })
			if !errors.Is(got, tc.err) {
				t.Errorf("the original error is lost: %v", got)
			}
			said := strings.Contains(got.Error(), "the key comes from api_key_file = /etc/ppsync/key") &&
				strings.Contains(got.Error(), "put a valid key")
			if said != tc.refused {
				t.Errorf("WithKeySource(%v) = %q; want the key's source said: %v", tc.err, got, tc.refused)
			}
		})
	}
	if diagnose.WithKeySource(nil, cfg, nil) != nil {
		t.Error("nil error made non-nil")
	}
}
