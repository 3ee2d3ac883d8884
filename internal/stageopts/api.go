package stageopts

import (
	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/version"
)

// API returns the client options for cfg and an API key: base URL, the
// rate limits and their window, the request timeout and ppsync's user
// agent. Callers add a Logger or Transport as they need.
func API(cfg *config.Config, apiKey string) api.Options {
	return api.Options{
		BaseURL:              cfg.API.BaseURL,
		APIKey:               apiKey,
		UserAgent:            version.UserAgent(),
		RequestsPerWindow:    cfg.API.RequestsPerWindow,
		SubmissionsPerWindow: cfg.API.SubmissionsPerWindow,
		RateWindow:           cfg.API.RateWindow.Duration,
		RequestTimeout:       cfg.API.RequestTimeout.Duration,
	}
}

// NewClient builds the client for cfg with opts applied to its options.
func NewClient(cfg *config.Config, apiKey string, opts ...func(*api.Options)) (*api.Client, error) {
	o := API(cfg, apiKey)
	for _, f := range opts {
		f(&o)
	}
	return api.New(o)
}
