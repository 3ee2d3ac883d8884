package webhook_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/patience"
	"github.com/ppsync/ppsync/internal/samples"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/webhook"
)

type env struct {
	emu *emulator.Emulator
	c   *api.Client
	log *slog.Logger
	buf *bytes.Buffer
}

func newEnv(t *testing.T, qs ...emulator.Quirk) *env {
	t.Helper()
	emu := emulator.New(emulator.Options{APIKeys: []string{"k"}, RateWindow: time.Second, ProcessingTime: time.Millisecond,
		TempDir: t.TempDir(), Quirks: qs, Seed: 7})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	c, err := api.New(api.Options{BaseURL: srv.URL, APIKey: "k", RateWindow: time.Second, BackoffBase: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	return &env{emu: emu, c: c, buf: &buf, log: slog.New(slog.NewTextHandler(&buf, nil))}
}

func openStore(t *testing.T) *state.Store {
	t.Helper()
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func (e *env) hookIDs(t *testing.T) []string {
	t.Helper()
	list, err := e.c.ListWebhooks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range list {
		ids = append(ids, w.WebhookID)
	}
	return ids
}

// receiverServer serves r and returns its public URL.
func receiverServer(t *testing.T, r *webhook.Receiver) string {
	t.Helper()
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL + "/hook"
}

// A changed [webhook] secret reaches the API: PATCH cannot carry it, so
// the subscription is re-created, and deliveries carry the new secret.
func TestEnsureSecretChangeRecreates(t *testing.T) {
	e := newEnv(t)
	st := openStore(t)
	ctx := context.Background()
	r := webhook.NewReceiver(webhook.ReceiverOptions{Path: "/hook", Static: "second-secret"})
	url := receiverServer(t, r)
	events := []string{apitypes.EventJobCompleted}
	a, err := webhook.Ensure(ctx, e.c, st, url, events, "first-secret", e.log)
	if err != nil {
		t.Fatal(err)
	}
	same, err := webhook.Ensure(ctx, e.c, st, url, events, "first-secret", e.log)
	if err != nil || same.WebhookID != a.WebhookID {
		t.Fatalf("unchanged secret: %+v %v", same, err)
	}
	b, err := webhook.Ensure(ctx, e.c, st, url, events, "second-secret", e.log)
	if err != nil || b.WebhookID == a.WebhookID || b.SigningSecret == a.SigningSecret {
		t.Fatalf("changed secret: %+v %v", b, err)
	}
	if ids := e.hookIDs(t); len(ids) != 1 || ids[0] != b.WebhookID {
		t.Fatalf("subscriptions %v, want only %s", ids, b.WebhookID)
	}
	r.SetSecret(b.SigningSecret)
	if err := webhook.SendTest(ctx, e.c, b.WebhookID, r, 10*time.Second); err != nil {
		t.Fatalf("test delivery with the new secret: %v", err)
	}
	stored, _, _ := webhook.Load(st)
	if stored.WebhookID != b.WebhookID || stored.StaticSecretSHA256 == "" || strings.Contains(stored.StaticSecretSHA256, "second") {
		t.Errorf("stored %+v", stored)
	}
	if strings.Contains(e.buf.String(), "second-secret") || strings.Contains(e.buf.String(), b.SigningSecret) {
		t.Error("a secret was logged")
	}
}

// refusingPatch is an API that will not PATCH webhooks.
type refusingPatch struct{ *api.Client }

func (refusingPatch) UpdateWebhook(context.Context, string, apitypes.WebhookUpdate) (apitypes.Webhook, error) {
	return apitypes.Webhook{}, &api.Error{Op: "PATCH /v1/webhooks/:id", StatusCode: 405, Code: "HTTP_405"}
}

// Changed events go by PATCH; an API that refuses it gets the
// subscription deleted and re-created instead.
func TestEnsureEventsChange(t *testing.T) {
	for _, tc := range []struct {
		name     string
		refuse   bool
		sameHook bool
	}{
		{"patched in place", false, true},
		{"PATCH refused: re-created", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			st := openStore(t)
			ctx := context.Background()
			var c webhook.Client = e.c
			if tc.refuse {
				c = refusingPatch{e.c}
			}
			url := "http://127.0.0.1:9/hook"
			a, err := webhook.Ensure(ctx, c, st, url, []string{apitypes.EventDocumentCompleted}, "", e.log)
			if err != nil {
				t.Fatal(err)
			}
			b, err := webhook.Ensure(ctx, c, st, url, []string{apitypes.EventJobCompleted}, "", e.log)
			if err != nil || (b.WebhookID == a.WebhookID) != tc.sameHook {
				t.Fatalf("after the change: %+v %v (was %s)", b, err, a.WebhookID)
			}
			wh, err := e.c.Webhook(ctx, b.WebhookID)
			if err != nil || len(wh.Events) != 1 || wh.Events[0] != apitypes.EventJobCompleted {
				t.Fatalf("events at the API: %+v %v", wh, err)
			}
			if ids := e.hookIDs(t); len(ids) != 1 {
				t.Fatalf("subscriptions %v, want one", ids)
			}
		})
	}
}

// After a lost state file, or a registration whose answer was lost, the
// old subscriptions for the same public_url are removed, never left to
// deliver twice; other urls are left alone.
func TestEnsureRemovesOrphans(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	url := "http://127.0.0.1:9/hook"
	events := []string{apitypes.EventJobCompleted}
	other, err := e.c.CreateWebhook(ctx, apitypes.WebhookCreate{URL: "http://127.0.0.1:9/other", Events: events})
	if err != nil {
		t.Fatal(err)
	}
	first, err := webhook.Ensure(ctx, e.c, openStore(t), url, events, "", e.log)
	if err != nil {
		t.Fatal(err)
	}
	// The state file is lost: a fresh store.
	st := openStore(t)
	second, err := webhook.Ensure(ctx, e.c, st, url, events, "", e.log)
	if err != nil || second.WebhookID == first.WebhookID {
		t.Fatalf("after a lost state: %+v %v", second, err)
	}
	if ids := e.hookIDs(t); len(ids) != 2 || !strings.Contains(strings.Join(ids, " "), second.WebhookID) ||
		!strings.Contains(strings.Join(ids, " "), other.WebhookID) {
		t.Fatalf("subscriptions %v, want %s and %s", ids, other.WebhookID, second.WebhookID)
	}
	// An orphan for the same url (a create whose answer never arrived).
	orphan, err := e.c.CreateWebhook(ctx, apitypes.WebhookCreate{URL: url + "/", Events: events})
	if err != nil {
		t.Fatal(err)
	}
	kept, err := webhook.Ensure(ctx, e.c, st, url, events, "", e.log)
	if err != nil || kept.WebhookID != second.WebhookID {
		t.Fatalf("reuse: %+v %v", kept, err)
	}
	for _, id := range e.hookIDs(t) {
		if id == orphan.WebhookID || id == first.WebhookID {
			t.Errorf("orphan %s left in place", id)
		}
	}
	if !strings.Contains(e.buf.String(), "orphaned webhook subscription") {
		t.Error("the removal was not logged")
	}
}

// Under each webhook quirk the receiver takes the deliveries and the test
// round trip succeeds.
func TestWebhookQuirks(t *testing.T) {
	for _, q := range []emulator.Quirk{"", emulator.QuirkNestedWebhook, emulator.QuirkEmptyTest, emulator.QuirkExtraFields, emulator.QuirkProxy5xx} {
		t.Run(string(q), func(t *testing.T) {
			var qs []emulator.Quirk
			if q != "" {
				qs = append(qs, q)
			}
			e := newEnv(t, qs...)
			st := openStore(t)
			ctx := context.Background()
			r := webhook.NewReceiver(webhook.ReceiverOptions{Path: "/hook"})
			url := receiverServer(t, r)
			reg, err := webhook.Ensure(ctx, e.c, st, url, []string{apitypes.EventDocumentCompleted, apitypes.EventJobCompleted}, "", e.log)
			if err != nil {
				t.Fatal(err)
			}
			r.SetSecret(reg.SigningSecret)
			if err := webhook.SendTest(ctx, e.c, reg.WebhookID, r, 10*time.Second); err != nil {
				t.Fatalf("test round trip: %v", err)
			}
			pdf, err := samples.Generate(5, 1, 1).PDF()
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "a.pdf")
			if err := os.WriteFile(p, pdf, 0o600); err != nil {
				t.Fatal(err)
			}
			sub, err := e.c.Submit(ctx, "prs_invoice", "key-"+string(q), []api.Upload{{Name: "a.pdf", Open: func() (io.ReadCloser, error) { return os.Open(p) }}})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]webhook.Event{}
			timeout := time.After(patience.Scale(10 * time.Second))
			for len(got) < 2 {
				select {
				case ev := <-r.Events():
					got[ev.Event] = ev
				case <-timeout:
					t.Fatalf("events received: %+v", got)
				}
			}
			if q == emulator.QuirkProxy5xx && e.emu.Injected().ProxyErrors == 0 {
				t.Error("no proxy error was injected: pick another seed")
			}
			doc := got[apitypes.EventDocumentCompleted]
			if doc.ExtractionID != sub.Extraction.ExtractionID || doc.DocumentID != sub.Extraction.Documents[0].DocumentID {
				t.Errorf("document event %+v, want %s/%s", doc, sub.Extraction.ExtractionID, sub.Extraction.Documents[0].DocumentID)
			}
			if job := got[apitypes.EventJobCompleted]; job.ExtractionID != sub.Extraction.ExtractionID {
				t.Errorf("job event %+v", job)
			}
		})
	}
}

// lostCreate is an API behind a proxy that loses the answer to the first
// create after the subscription was made.
type lostCreate struct {
	*api.Client
	lost int
}

func (l *lostCreate) CreateWebhook(ctx context.Context, in apitypes.WebhookCreate) (apitypes.Webhook, error) {
	wh, err := l.Client.CreateWebhook(ctx, in)
	if err == nil && l.lost > 0 {
		l.lost--
		return apitypes.Webhook{}, &api.Error{Op: "POST /v1/webhooks", StatusCode: 504, Code: "HTTP_504"}
	}
	return wh, err
}

// A create whose answer is lost is tried again, and the subscription made
// behind the lost answer is removed: exactly one remains, and its signing
// secret is the one stored.
func TestEnsureRetriesLostCreate(t *testing.T) {
	for _, tc := range []struct {
		lost int
		ok   bool
	}{{1, true}, {2, true}, {3, false}} {
		e := newEnv(t)
		st := openStore(t)
		c := &lostCreate{Client: e.c, lost: tc.lost}
		reg, err := webhook.Ensure(context.Background(), c, st, "http://127.0.0.1:9/hook", []string{apitypes.EventJobCompleted}, "", e.log)
		if (err == nil) != tc.ok {
			t.Fatalf("%d lost answers: %+v %v", tc.lost, reg, err)
		}
		ids := e.hookIDs(t)
		if tc.ok && (len(ids) != 1 || ids[0] != reg.WebhookID) {
			t.Errorf("%d lost answers: subscriptions %v, want only %s", tc.lost, ids, reg.WebhookID)
		}
		if !tc.ok && !strings.Contains(err.Error(), "HTTP 504") {
			t.Errorf("%d lost answers: %v", tc.lost, err)
		}
	}
}
