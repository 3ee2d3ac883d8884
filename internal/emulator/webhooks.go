package emulator

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/ppsync/ppsync/internal/apitypes"
)

type webhook struct {
	apitypes.Webhook
	secret        string // static X-Webhook-Secret
	signingSecret string
	deleted       bool
	deliveries    []apitypes.WebhookDelivery
}

type delivery struct {
	hook    *webhook
	payload apitypes.WebhookPayload
}

var webhookEvents = []string{apitypes.EventDocumentCompleted, apitypes.EventJobCompleted}

func validateWebhookURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "url must be an absolute URL."
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		h := u.Hostname()
		if h == "localhost" || h == "127.0.0.1" || h == "::1" || len(h) > 4 && h[:4] == "127." {
			return ""
		}
	}
	return "url must use HTTPS (plain HTTP is accepted only for loopback hosts)."
}

func validateEvents(ev []string) string {
	if len(ev) == 0 {
		return "events must list at least one event."
	}
	for _, x := range ev {
		if !slices.Contains(webhookEvents, x) {
			return fmt.Sprintf("unknown event %q: use extraction.document_completed or extraction.job_completed.", x)
		}
	}
	return ""
}

func (e *Emulator) liveHooks() []*webhook {
	var out []*webhook
	for _, id := range e.hookOrder {
		if h := e.webhooks[id]; !h.deleted {
			out = append(out, h)
		}
	}
	return out
}

func (e *Emulator) listWebhooks(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	var all []apitypes.Webhook
	for _, h := range e.liveHooks() {
		v := h.Webhook
		v.SigningSecret = ""
		all = append(all, v)
	}
	e.mu.Unlock()
	if all == nil {
		all = []apitypes.Webhook{}
	}
	items, p, ok := offsetPage(all, r, 20)
	if !ok {
		writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, "Invalid limit or cursor.")
		return
	}
	writeJSON(w, http.StatusOK, apitypes.WebhookList{Webhooks: items, Pagination: p})
}

func (e *Emulator) createWebhook(w http.ResponseWriter, r *http.Request, _ string) {
	var in apitypes.WebhookCreate
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, "Malformed JSON body.")
		return
	}
	msg := validateWebhookURL(in.URL)
	if msg == "" {
		msg = validateEvents(in.Events)
	}
	if msg == "" && in.Secret != "" && len(in.Secret) < 8 {
		msg = "secret must be at least 8 characters."
	}
	if msg != "" {
		writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, msg)
		return
	}
	raw := make([]byte, 24)
	_, _ = rand.Read(raw)
	e.mu.Lock()
	h := &webhook{
		Webhook: apitypes.Webhook{WebhookID: e.nextID("wh"), URL: in.URL, Events: slices.Clone(in.Events),
			IsActive: true, CreatedAt: ts(e.now())},
		secret:        in.Secret,
		signingSecret: "wh_sec_" + hex.EncodeToString(raw),
	}
	e.webhooks[h.WebhookID] = h
	e.hookOrder = append(e.hookOrder, h.WebhookID)
	out := h.Webhook
	out.SigningSecret = h.signingSecret
	e.mu.Unlock()
	writeJSON(w, http.StatusCreated, apitypes.WebhookEnvelope{Webhook: out})
}

func (e *Emulator) lookupHook(w http.ResponseWriter, r *http.Request) *webhook {
	h, ok := e.webhooks[r.PathValue("id")]
	if !ok || h.deleted {
		writeErr(w, http.StatusNotFound, apitypes.CodeResourceNotFound, "Webhook not found.")
		return nil
	}
	return h
}

func (e *Emulator) getWebhook(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if h := e.lookupHook(w, r); h != nil {
		v := h.Webhook
		v.Deliveries = slices.Clone(h.deliveries)
		if v.Deliveries == nil {
			v.Deliveries = []apitypes.WebhookDelivery{}
		}
		writeJSON(w, http.StatusOK, apitypes.WebhookEnvelope{Webhook: v})
	}
}

func (e *Emulator) patchWebhook(w http.ResponseWriter, r *http.Request, _ string) {
	var in apitypes.WebhookUpdate
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	// The docs list url, events and is_active for PATCH; anything else (a
	// new secret, say) is refused rather than silently ignored.
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload,
			"Malformed JSON body or a field PATCH does not accept (use url, events, is_active): "+err.Error())
		return
	}
	msg := ""
	if in.URL != nil {
		msg = validateWebhookURL(*in.URL)
	}
	if msg == "" && in.Events != nil {
		msg = validateEvents(in.Events)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	h := e.lookupHook(w, r)
	if h == nil {
		return
	}
	if msg != "" {
		writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, msg)
		return
	}
	if in.URL != nil {
		h.URL = *in.URL
	}
	if in.Events != nil {
		h.Events = slices.Clone(in.Events)
	}
	if in.IsActive != nil {
		h.IsActive = *in.IsActive
	}
	writeJSON(w, http.StatusOK, apitypes.WebhookEnvelope{Webhook: h.Webhook})
}

func (e *Emulator) deleteWebhook(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if h := e.lookupHook(w, r); h != nil {
		h.deleted = true
		h.IsActive = false
		w.WriteHeader(http.StatusNoContent)
	}
}

func (e *Emulator) testWebhook(w http.ResponseWriter, r *http.Request, _ string) {
	e.mu.Lock()
	h := e.lookupHook(w, r)
	if h == nil {
		e.mu.Unlock()
		return
	}
	d := delivery{hook: h, payload: apitypes.WebhookPayload{
		EventID: e.nextID("evt"), Event: apitypes.EventJobCompleted, CreatedAt: ts(e.now()),
		ExtractionID: "ext_test", ParserID: "prs_invoice", Status: apitypes.StatusCompleted, Test: true,
	}}
	e.mu.Unlock()
	e.deliver(d)
	if e.quirk(QuirkEmptyTest) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"test": map[string]any{"webhook_id": h.WebhookID, "event_id": d.payload.EventID, "queued": true}})
}

// eventsFor builds the deliveries a finished document causes. Call with e.mu held.
func (e *Emulator) eventsFor(d *doc, jobDone bool) []delivery {
	var out []delivery
	for _, h := range e.liveHooks() {
		if !h.IsActive {
			continue
		}
		if slices.Contains(h.Events, apitypes.EventDocumentCompleted) {
			out = append(out, delivery{hook: h, payload: apitypes.WebhookPayload{
				EventID: e.nextID("evt"), Event: apitypes.EventDocumentCompleted, CreatedAt: ts(e.now()),
				ExtractionID: d.job.ExtractionID, ParserID: d.job.ParserID, Status: d.Status, DocumentID: d.DocumentID,
			}})
		}
		if jobDone && slices.Contains(h.Events, apitypes.EventJobCompleted) {
			out = append(out, delivery{hook: h, payload: apitypes.WebhookPayload{
				EventID: e.nextID("evt"), Event: apitypes.EventJobCompleted, CreatedAt: ts(e.now()),
				ExtractionID: d.job.ExtractionID, ParserID: d.job.ParserID, Status: d.job.Status,
			}})
		}
	}
	return out
}

// Sign computes the X-PerfectParser-Signature value for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// deliver sends one event in the background, retrying 5 times with
// back-off (1, 2, 4, 8, 16 s, scaled) on a non-2xx answer or a timeout.
func (e *Emulator) deliver(d delivery) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if e.opts.WebhookDelay > 0 && !e.sleep(e.opts.WebhookDelay) {
			return
		}
		if e.opts.WebhookDropRate > 0 && e.chance(e.opts.WebhookDropRate) {
			e.count(func(i *Injected) { i.WebhooksDropped++ })
			e.record(d, 0, 0, "dropped (emulator --webhook-drop-rate)")
			return
		}
		body := e.payloadBody(d.payload)
		e.mu.Lock()
		target, static, signing := d.hook.URL, d.hook.secret, d.hook.signingSecret
		e.mu.Unlock()
		wait := time.Second
		for attempt := 1; attempt <= 6; attempt++ {
			status, err := e.post(target, static, signing, body)
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			e.record(d, attempt, status, msg)
			if err == nil && status >= 200 && status < 300 {
				return
			}
			if attempt == 6 || !e.sleep(e.scaled(wait)) {
				return
			}
			wait *= 2
		}
	}()
}

// payloadBody encodes a delivery: flat by default, ids under "data" with
// QuirkNestedWebhook.
func (e *Emulator) payloadBody(p apitypes.WebhookPayload) []byte {
	if e.quirk(QuirkNestedWebhook) {
		b, _ := json.Marshal(nestedPayload{EventID: p.EventID, Event: p.Event, CreatedAt: p.CreatedAt, Test: p.Test,
			Data: nestedData{ExtractionID: p.ExtractionID, ParserID: p.ParserID, Status: p.Status, DocumentID: p.DocumentID}})
		return b
	}
	b, _ := json.Marshal(p)
	return b
}

func (e *Emulator) post(target, static, signing string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(e.ctx, e.hooks.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "PerfectParser-Webhooks (emulator)")
	req.Header.Set(apitypes.HeaderSignature, Sign(signing, body))
	if static != "" {
		req.Header.Set(apitypes.HeaderWebhookSecret, static)
	}
	resp, err := e.hooks.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (e *Emulator) record(d delivery, attempt, status int, msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d.hook.deliveries = append(d.hook.deliveries, apitypes.WebhookDelivery{
		EventID: d.payload.EventID, Event: d.payload.Event, Attempt: attempt, StatusCode: status, Error: msg, At: ts(e.now()),
	})
	if n := len(d.hook.deliveries); n > 10 {
		d.hook.deliveries = d.hook.deliveries[n-10:]
	}
}

func (e *Emulator) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-e.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
