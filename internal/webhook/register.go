package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/state"
)

// Client is the subset of *api.Client used here.
type Client interface {
	CreateWebhook(ctx context.Context, in apitypes.WebhookCreate) (apitypes.Webhook, error)
	Webhook(ctx context.Context, id string) (apitypes.Webhook, error)
	UpdateWebhook(ctx context.Context, id string, in apitypes.WebhookUpdate) (apitypes.Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
	TestWebhook(ctx context.Context, id string) (json.RawMessage, error)
}

// Registration is what the state keeps about the subscription. The signing
// secret is shown once by the API, so it lives only here (state file, 0600).
type Registration struct {
	WebhookID     string    `json:"webhook_id"`
	URL           string    `json:"url"`
	Events        []string  `json:"events"`
	SigningSecret string    `json:"signing_secret"`
	Created       time.Time `json:"created"`
}

const metaKey = "webhook"

// Load reads the stored registration.
func Load(st *state.Store) (Registration, bool, error) {
	var r Registration
	var raw string
	if err := st.View(func(tx *state.Tx) error { raw = tx.Meta(metaKey); return nil }); err != nil {
		return r, false, err
	}
	if raw == "" {
		return r, false, nil
	}
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return r, false, fmt.Errorf("state %s: webhook registration: %w", st.Path(), err)
	}
	return r, r.WebhookID != "", nil
}

func save(st *state.Store, r *Registration) error {
	return st.Update(func(tx *state.Tx) error {
		if r == nil {
			return tx.PutMeta(metaKey, "")
		}
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return tx.PutMeta(metaKey, string(b))
	})
}

// Ensure makes sure the API has a subscription for url and events: the one
// in the state when it still exists (updated if url or events changed),
// else a new one whose signing secret is stored. It never logs the secret.
func Ensure(ctx context.Context, c Client, st *state.Store, url string, events []string, static string, log *slog.Logger) (Registration, error) {
	reg, ok, err := Load(st)
	if err != nil {
		return reg, err
	}
	if ok {
		wh, err := c.Webhook(ctx, reg.WebhookID)
		switch {
		case err == nil && wh.URL == url && sameEvents(wh.Events, events) && wh.IsActive:
			log.Info("webhook already registered", "webhook_id", reg.WebhookID, "url", url)
			return reg, nil
		case err == nil:
			active := true
			if _, err := c.UpdateWebhook(ctx, reg.WebhookID, apitypes.WebhookUpdate{URL: &url, Events: events, IsActive: &active}); err != nil {
				return reg, fmt.Errorf("update webhook %s: %w", reg.WebhookID, err)
			}
			reg.URL, reg.Events = url, slices.Clone(events)
			log.Info("webhook updated", "webhook_id", reg.WebhookID, "url", url, "events", events)
			return reg, save(st, &reg)
		case api.IsNotFound(err):
			log.Warn("the stored webhook no longer exists at the API; registering a new one", "webhook_id", reg.WebhookID)
		default:
			return reg, fmt.Errorf("read webhook %s: %w", reg.WebhookID, err)
		}
	}
	wh, err := c.CreateWebhook(ctx, apitypes.WebhookCreate{URL: url, Events: events, Secret: static})
	if err != nil {
		return reg, fmt.Errorf("register webhook for %s: %w", url, err)
	}
	if wh.SigningSecret == "" {
		return reg, errors.New("the API created the webhook but returned no signing_secret; deliveries cannot be verified")
	}
	reg = Registration{WebhookID: wh.WebhookID, URL: url, Events: slices.Clone(events), SigningSecret: wh.SigningSecret, Created: time.Now()}
	if err := save(st, &reg); err != nil {
		return reg, err
	}
	log.Info("webhook registered", "webhook_id", wh.WebhookID, "url", url, "events", events)
	return reg, nil
}

// Remove deletes the stored subscription at the API and forgets it.
func Remove(ctx context.Context, c Client, st *state.Store) (string, error) {
	reg, ok, err := Load(st)
	if err != nil || !ok {
		return "", err
	}
	if err := c.DeleteWebhook(ctx, reg.WebhookID); err != nil {
		return reg.WebhookID, fmt.Errorf("delete webhook %s: %w", reg.WebhookID, err)
	}
	return reg.WebhookID, save(st, nil)
}

// SendTest asks the API for a test delivery and waits for it to arrive
// verified at the receiver.
func SendTest(ctx context.Context, c Client, id string, r *Receiver, wait time.Duration) error {
	for {
		select { // drain stale test deliveries
		case <-r.Tests():
			continue
		default:
		}
		break
	}
	if _, err := c.TestWebhook(ctx, id); err != nil {
		return fmt.Errorf("ask for a test delivery: %w", err)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-r.Tests():
		return nil
	case <-t.C:
		_, rejected, _ := r.Counts()
		if rejected > 0 {
			return fmt.Errorf("a delivery arrived but failed verification (%d rejected): is the stored signing secret from another installation? run 'ppsync webhook remove' and restart", rejected)
		}
		return fmt.Errorf("the test delivery did not arrive within %s: check that public_url reaches this receiver (reverse proxy, tunnel, firewall)", wait)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func sameEvents(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
