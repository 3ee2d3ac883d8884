package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/apitypes"
	"github.com/ppsync/ppsync/internal/emulator"
	"github.com/ppsync/ppsync/internal/state"
	"github.com/ppsync/ppsync/internal/webhook"
)

const secret = "wh_sec_0123456789abcdef"

func sign(body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

func post(t *testing.T, h http.Handler, path, body string, hdr map[string]string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestReceiverVerifies(t *testing.T) {
	r := webhook.NewReceiver(webhook.ReceiverOptions{Path: "/hook", Static: "static-token", MaxBody: 1024})
	r.SetSecret(secret)
	body := `{"event_id":"evt_1","event":"extraction.document_completed","extraction_id":"ext_1","document_id":"doc_1"}`
	good := map[string]string{apitypes.HeaderSignature: sign(body), apitypes.HeaderWebhookSecret: "static-token"}
	for _, tc := range []struct {
		name   string
		path   string
		body   string
		hdr    map[string]string
		status int
	}{
		{"valid", "/hook", body, good, 202},
		{"missing signature", "/hook", body, map[string]string{apitypes.HeaderWebhookSecret: "static-token"}, 401},
		{"wrong signature", "/hook", body, map[string]string{apitypes.HeaderSignature: sign(body + " "), apitypes.HeaderWebhookSecret: "static-token"}, 401},
		{"not hex", "/hook", body, map[string]string{apitypes.HeaderSignature: "zz", apitypes.HeaderWebhookSecret: "static-token"}, 401},
		{"signed other body", "/hook", strings.Replace(body, "doc_1", "doc_2", 1), good, 401},
		{"static secret mismatch", "/hook", body, map[string]string{apitypes.HeaderSignature: sign(body), apitypes.HeaderWebhookSecret: "static-tokeN"}, 401},
		{"static secret missing", "/hook", body, map[string]string{apitypes.HeaderSignature: sign(body)}, 401},
		{"oversized", "/hook", body + strings.Repeat(" ", 2000), good, 413},
		{"other path", "/other", body, good, 404},
	} {
		if got := post(t, r, tc.path, tc.body, tc.hdr); got != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.status)
		}
	}
	// sha256= prefix accepted; a replay of the same event is acknowledged but passed on once.
	prefixed := map[string]string{apitypes.HeaderSignature: "sha256=" + sign(body), apitypes.HeaderWebhookSecret: "static-token"}
	if got := post(t, r, "/hook", body, prefixed); got != 202 {
		t.Errorf("prefixed replay: %d", got)
	}
	select {
	case ev := <-r.Events():
		if ev.ExtractionID != "ext_1" || ev.DocumentID != "doc_1" {
			t.Errorf("event = %+v", ev)
		}
	default:
		t.Fatal("valid delivery not passed on")
	}
	select {
	case ev := <-r.Events():
		t.Fatalf("replayed delivery passed on twice: %+v", ev)
	default:
	}
	// Ids under "data" are accepted too; test deliveries go to Tests.
	nested := `{"id":"evt_2","type":"extraction.job_completed","data":{"extraction_id":"ext_9"}}`
	if got := post(t, r, "/hook", nested, map[string]string{apitypes.HeaderSignature: sign(nested), apitypes.HeaderWebhookSecret: "static-token"}); got != 202 {
		t.Fatalf("nested: %d", got)
	}
	if ev := <-r.Events(); ev.ExtractionID != "ext_9" || ev.Event != apitypes.EventJobCompleted {
		t.Errorf("nested event = %+v", ev)
	}
	test := `{"event_id":"evt_3","test":true}`
	post(t, r, "/hook", test, map[string]string{apitypes.HeaderSignature: sign(test), apitypes.HeaderWebhookSecret: "static-token"})
	select {
	case <-r.Tests():
	default:
		t.Error("test delivery not reported")
	}
	if v, rej, _ := r.Counts(); v != 4 || rej != 7 {
		t.Errorf("counts verified=%d rejected=%d", v, rej)
	}
	// Before registration there is no secret: everything is refused.
	fresh := webhook.NewReceiver(webhook.ReceiverOptions{})
	if got := post(t, fresh, "/", body, map[string]string{apitypes.HeaderSignature: sign(body)}); got != 401 {
		t.Errorf("no secret yet: %d", got)
	}
}

func TestVerifyMatchesEmulatorSigning(t *testing.T) {
	body := []byte(`{"a":1}`)
	if !webhook.Verify([]byte(secret), body, emulator.Sign(secret, body)) {
		t.Fatal("emulator signature not accepted")
	}
	if webhook.Verify(nil, body, emulator.Sign("", body)) {
		t.Fatal("empty secret accepted")
	}
}

func TestEnsureReusesUpdatesAndRecreates(t *testing.T) {
	emu := emulator.New(emulator.Options{APIKeys: []string{"k"}, RateWindow: time.Second, TempDir: t.TempDir()})
	srv := httptest.NewServer(emu)
	defer func() { srv.Close(); emu.Close() }()
	c, err := api.New(api.Options{BaseURL: srv.URL, APIKey: "k", RateWindow: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, log := context.Background(), slog.New(slog.DiscardHandler)
	url := "http://127.0.0.1:9/hook"
	a, err := webhook.Ensure(ctx, c, st, url, []string{apitypes.EventDocumentCompleted}, "", log)
	if err != nil || a.SigningSecret == "" {
		t.Fatalf("create: %+v %v", a, err)
	}
	b, err := webhook.Ensure(ctx, c, st, url, []string{apitypes.EventDocumentCompleted}, "", log)
	if err != nil || b.WebhookID != a.WebhookID || b.SigningSecret != a.SigningSecret {
		t.Fatalf("reuse: %+v %v", b, err)
	}
	u, err := webhook.Ensure(ctx, c, st, url, []string{apitypes.EventJobCompleted}, "", log)
	if err != nil || u.WebhookID != a.WebhookID {
		t.Fatalf("update: %+v %v", u, err)
	}
	if wh, _ := c.Webhook(ctx, a.WebhookID); wh.Events[0] != apitypes.EventJobCompleted {
		t.Fatalf("events not patched: %+v", wh)
	}
	if list, _ := c.ListWebhooks(ctx); len(list) != 1 {
		t.Fatalf("%d webhooks, want 1", len(list))
	}
	// Deleted behind ppsync's back: a new one is created.
	if err := c.DeleteWebhook(ctx, a.WebhookID); err != nil {
		t.Fatal(err)
	}
	n, err := webhook.Ensure(ctx, c, st, url, []string{apitypes.EventJobCompleted}, "", log)
	if err != nil || n.WebhookID == a.WebhookID {
		t.Fatalf("recreate: %+v %v", n, err)
	}
	if id, err := webhook.Remove(ctx, c, st); err != nil || id != n.WebhookID {
		t.Fatalf("remove: %s %v", id, err)
	}
	if _, ok, _ := webhook.Load(st); ok {
		t.Fatal("registration kept after remove")
	}
	if list, _ := c.ListWebhooks(ctx); len(list) != 0 {
		t.Fatalf("%d webhooks after remove", len(list))
	}
}

func FuzzReceiver(f *testing.F) {
	f.Add([]byte(`{"event_id":"e","extraction_id":"x"}`), "")
	f.Add([]byte(`{"data":{"extraction_id":"x"}}`), "sha256=00")
	f.Add([]byte(`not json`), "zz")
	r := webhook.NewReceiver(webhook.ReceiverOptions{Buffer: 1})
	r.SetSecret(secret)
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		req.Header.Set(apitypes.HeaderSignature, sig)
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		valid := webhook.Verify([]byte(secret), body, sig)
		if !valid && rec.Code != http.StatusUnauthorized && rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("unverified body answered %d", rec.Code)
		}
		if valid && rec.Code != http.StatusAccepted {
			t.Fatalf("verified body answered %d", rec.Code)
		}
		select {
		case <-r.Events():
		default:
		}
	})
}
