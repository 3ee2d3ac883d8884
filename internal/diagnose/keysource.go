package diagnose

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/uploader"
)

// KeyRefused reports an answer of the API refusing the key (401, 403).
func KeyRefused(err error) bool {
	var ae *api.Error
	if errors.As(err, &ae) && (ae.StatusCode == http.StatusUnauthorized || ae.StatusCode == http.StatusForbidden) {
		return true
	}
	return api.IsUnauthorized(err) || errors.Is(err, uploader.ErrUnauthorized)
}

// WithKeySource adds to an error of a refused key where the key came from
// and what to do; the key itself is never shown.
func WithKeySource(err error, cfg *config.Config, getenv func(string) string) error {
	if err == nil || cfg == nil || !KeyRefused(err) {
		return err
	}
	src := cfg.APIKeySource(getenv)
	return fmt.Errorf("%w\nthe key comes from %s: %s", err, src, strings.TrimSuffix(src.Fix(), "."))
}
