package daemon

import (
	"context"

	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/report"
	"github.com/ppsync/ppsync/internal/webhook"
)

// webhookOptions are the webhook keeper's settings from cfg.
func webhookOptions(cfg *config.Config, once bool) webhook.KeeperOptions {
	wc := cfg.Webhook
	return webhook.KeeperOptions{Enabled: wc.Enabled, PublicURL: wc.PublicURL, Listen: wc.Listen, TLSCert: wc.TLSCert, TLSKey: wc.TLSKey,
		Secret: wc.Secret, Events: wc.Events, MaxBody: wc.MaxBody.Bytes, PollInterval: wc.PollInterval.Duration,
		Polling: cfg.Poll.Interval.Duration, Wait: once}
}

// hookState lends the webhook keeper to the admin endpoint and the status
// report.
type hookState struct{ k *webhook.Keeper }

// test sends a test delivery and waits for it.
func (h *hookState) test(ctx context.Context) (string, error) { return h.k.Test(ctx) }

func (h *hookState) report() *report.Webhook {
	s := h.k.Status()
	return &report.Webhook{WebhookID: s.WebhookID, URL: s.URL, Listen: s.Listen, Verified: s.Verified, Rejected: s.Rejected,
		Dropped: s.Dropped, LastTest: s.LastTest, Error: s.Error}
}
