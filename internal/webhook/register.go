package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/state"
)

// Client is the subset of *api.Client used here.
type Client interface {
	ListWebhooks(ctx context.Context) ([]apitypes.Webhook, error)
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
	// StaticSecretSHA256 is the hex SHA-256 of the [webhook] secret the
	// subscription was created with ("" for none), to notice a change: the
	// API never shows the secret back.
	StaticSecretSHA256 string `json:"static_secret_sha256,omitempty"`
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

func secretHash(static string) string {
	if static == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(static))
	return hex.EncodeToString(sum[:])
}

// Ensure makes sure the API has exactly one subscription for url, with
// events and the static secret: the one in the state when it still exists
// (patched if url or events changed), else a new one whose signing secret
// is stored. The docs give PATCH no secret field, so a changed static
// secret (or a PATCH the API refuses) deletes and re-creates the
// subscription. Other subscriptions for the same url are orphans of a lost
// state file or an interrupted registration: their signing secret cannot
// be recovered, so they are deleted. It never logs a secret.
func Ensure(ctx context.Context, c Client, st *state.Store, url string, events []string, static string, log *slog.Logger) (Registration, error) {
	reg, ok, err := Load(st)
	if err != nil {
		return reg, err
	}
	if ok {
		keep, err := reuse(ctx, c, st, &reg, url, events, static, log)
		if err != nil {
			return reg, err
		}
		if keep {
			return reg, removeOrphans(ctx, c, url, reg.WebhookID, log)
		}
	}
	wh, err := create(ctx, c, url, events, static, log)
	if err != nil {
		return reg, err
	}
	if wh.SigningSecret == "" {
		return reg, errors.New("the API created the webhook but returned no signing_secret; deliveries cannot be verified")
	}
	reg = Registration{WebhookID: wh.WebhookID, URL: url, Events: slices.Clone(events), SigningSecret: wh.SigningSecret,
		Created: time.Now(), StaticSecretSHA256: secretHash(static)}
	if err := save(st, &reg); err != nil {
		return reg, err
	}
	log.Info("webhook registered", "webhook_id", wh.WebhookID, "url", url, "events", events)
	return reg, nil
}

// createAttempts bounds create: an answer lost to a proxy or the network
// may hide a subscription that was made; the orphan sweep before the next
// attempt deletes it, so a retry never leaves two.
const createAttempts = 3

func create(ctx context.Context, c Client, url string, events []string, static string, log *slog.Logger) (apitypes.Webhook, error) {
	for attempt := 1; ; attempt++ {
		if err := removeOrphans(ctx, c, url, "", log); err != nil {
			return apitypes.Webhook{}, err
		}
		wh, err := c.CreateWebhook(ctx, apitypes.WebhookCreate{URL: url, Events: events, Secret: static})
		if err == nil {
			return wh, nil
		}
		var ae *api.Error
		if attempt == createAttempts || ctx.Err() != nil || errors.As(err, &ae) && !api.IsRetryableStatus(ae.StatusCode) {
			return wh, fmt.Errorf("register webhook for %s: %w", url, err)
		}
		log.Warn("registering the webhook failed; trying again", "url", url, "attempt", attempt, "error", err)
		t := time.NewTimer(time.Duration(attempt) * 200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return wh, fmt.Errorf("register webhook for %s: %w", url, ctx.Err())
		case <-t.C:
		}
	}
}

// reuse brings the stored subscription up to date. It reports false when
// a new one must be created (the stored one is gone or was deleted here).
func reuse(ctx context.Context, c Client, st *state.Store, reg *Registration, url string, events []string, static string, log *slog.Logger) (bool, error) {
	wh, err := c.Webhook(ctx, reg.WebhookID)
	switch {
	case api.IsNotFound(err):
		log.Warn("the stored webhook no longer exists at the API; registering a new one", "webhook_id", reg.WebhookID)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read webhook %s: %w", reg.WebhookID, err)
	case reg.StaticSecretSHA256 != secretHash(static):
		log.Info("the [webhook] secret changed and the API cannot change it in place; re-creating the subscription", "webhook_id", reg.WebhookID)
		return false, deleteHook(ctx, c, reg.WebhookID)
	case wh.URL == url && sameEvents(wh.Events, events) && wh.IsActive:
		log.Info("webhook already registered", "webhook_id", reg.WebhookID, "url", url)
		return true, nil
	}
	active := true
	_, err = c.UpdateWebhook(ctx, reg.WebhookID, apitypes.WebhookUpdate{URL: &url, Events: events, IsActive: &active})
	switch {
	case err == nil:
		reg.URL, reg.Events = url, slices.Clone(events)
		log.Info("webhook updated", "webhook_id", reg.WebhookID, "url", url, "events", events)
		return true, save(st, reg)
	case api.IsNotFound(err):
		log.Warn("the stored webhook vanished while it was being updated; registering a new one", "webhook_id", reg.WebhookID)
		return false, nil
	case patchRefused(err):
		log.Info("the API refused to update the webhook in place; re-creating it", "webhook_id", reg.WebhookID, "error", err)
		return false, deleteHook(ctx, c, reg.WebhookID)
	}
	return false, fmt.Errorf("update webhook %s: %w", reg.WebhookID, err)
}

// patchRefused reports an answer saying PATCH cannot make this change.
func patchRefused(err error) bool {
	var e *api.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.StatusCode {
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusNotImplemented:
		return true
	}
	return false
}

func deleteHook(ctx context.Context, c Client, id string) error {
	if err := c.DeleteWebhook(ctx, id); err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	return nil
}

// removeOrphans deletes every subscription for url but keep.
func removeOrphans(ctx context.Context, c Client, url, keep string, log *slog.Logger) error {
	list, err := c.ListWebhooks(ctx)
	if err != nil {
		return fmt.Errorf("list webhooks to find orphans for %s: %w", url, err)
	}
	for _, wh := range list {
		if wh.WebhookID == keep || !sameURL(wh.URL, url) {
			continue
		}
		if err := deleteHook(ctx, c, wh.WebhookID); err != nil {
			return err
		}
		log.Warn("removed an orphaned webhook subscription for this public_url (its signing secret cannot be recovered)",
			"webhook_id", wh.WebhookID, "url", url)
	}
	return nil
}

func sameURL(a, b string) bool { return strings.TrimRight(a, "/") == strings.TrimRight(b, "/") }

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

// RemoveAt is Remove on the state file at statePath, for `ppsync webhook
// remove` with ppsync stopped: a running ppsync holds the file, and the
// error says to stop it (or turn webhooks off, which removes it too).
func RemoveAt(ctx context.Context, c Client, statePath string) (string, error) {
	st, err := state.Open(statePath, 300*time.Millisecond)
	if errors.Is(err, state.ErrLocked) {
		return "", fmt.Errorf("ppsync is running and holds %s: stop it first (or turn webhooks off in the config and restart: it then deletes the subscription itself)", statePath)
	}
	if err != nil {
		return "", err
	}
	defer st.Close()
	return Remove(ctx, c, st)
}
