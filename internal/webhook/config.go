package webhook

import (
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/report"
)

// OptionsFor are the keeper's settings from cfg's [webhook] and [poll];
// once registers before Recover returns (a --once run). The client, store,
// poller and log are the caller's to set.
func OptionsFor(cfg *config.Config, once bool) KeeperOptions {
	wc := cfg.Webhook
	return KeeperOptions{Enabled: wc.Enabled, PublicURL: wc.PublicURL, Listen: wc.Listen, TLSCert: wc.TLSCert, TLSKey: wc.TLSKey,
		Secret: wc.Secret, Events: wc.Events, MaxBody: wc.MaxBody.Bytes, PollInterval: wc.PollInterval.Duration,
		Polling: cfg.Poll.Interval.Duration, Wait: once}
}

// Report is the keeper's status as the status report shows it.
func (k *Keeper) Report() *report.Webhook {
	s := k.Status()
	return &report.Webhook{WebhookID: s.WebhookID, URL: s.URL, Listen: s.Listen, Verified: s.Verified, Rejected: s.Rejected,
		Dropped: s.Dropped, LastTest: s.LastTest, Error: s.Error}
}
