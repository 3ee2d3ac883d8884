package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/ppsync/ppsync/internal/apitypes"
)

// ListWebhooks calls GET /v1/webhooks and follows cursors.
func (c *Client) ListWebhooks(ctx context.Context) ([]apitypes.Webhook, error) {
	var all []apitypes.Webhook
	cursor := ""
	for {
		q := url.Values{"limit": {strconv.Itoa(100)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page apitypes.WebhookList
		if err := c.getJSON(ctx, "/v1/webhooks", "GET /v1/webhooks", q, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Webhooks...)
		nc := page.Pagination.NextCursor
		if !page.Pagination.HasNextPage || nc == nil || *nc == "" || *nc == cursor {
			return all, nil
		}
		cursor = *nc
	}
}

// CreateWebhook calls POST /v1/webhooks. The answer's SigningSecret is shown
// once: the caller must store it. Not retried on ambiguous failures (it
// would create a second subscription); a 429 is retried since the server
// did not act.
func (c *Client) CreateWebhook(ctx context.Context, in apitypes.WebhookCreate) (apitypes.Webhook, error) {
	var env apitypes.WebhookEnvelope
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/webhooks", route: "POST /v1/webhooks", body: sized(jsonBody(in))}, &env)
	return env.Webhook, err
}

// Webhook calls GET /v1/webhooks/:id.
func (c *Client) Webhook(ctx context.Context, id string) (apitypes.Webhook, error) {
	var env apitypes.WebhookEnvelope
	err := c.getJSON(ctx, "/v1/webhooks/"+url.PathEscape(id), "GET /v1/webhooks/:id", nil, &env)
	return env.Webhook, err
}

// UpdateWebhook calls PATCH /v1/webhooks/:id (idempotent, so retried).
func (c *Client) UpdateWebhook(ctx context.Context, id string, in apitypes.WebhookUpdate) (apitypes.Webhook, error) {
	var env apitypes.WebhookEnvelope
	_, err := c.do(ctx, request{method: http.MethodPatch, path: "/v1/webhooks/" + url.PathEscape(id),
		route: "PATCH /v1/webhooks/:id", body: sized(jsonBody(in)), retry: true}, &env)
	return env.Webhook, err
}

// DeleteWebhook calls DELETE /v1/webhooks/:id (204). A 404 counts as done.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/v1/webhooks/" + url.PathEscape(id),
		route: "DELETE /v1/webhooks/:id", retry: true}, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// TestWebhook calls POST /v1/webhooks/:id/test, which sends a synthetic
// extraction.job_completed delivery with "test": true. The answer body is
// not documented: any 2xx counts, with or without a body (a 204, say), and
// the body is returned raw (nil when empty). Retried like a read: a second
// test delivery is harmless.
func (c *Client) TestWebhook(ctx context.Context, id string) (json.RawMessage, error) {
	resp, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/webhooks/" + url.PathEscape(id) + "/test",
		route: "POST /v1/webhooks/:id/test", retry: true}, nil)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(resp.body)) == 0 {
		return nil, nil
	}
	return json.RawMessage(resp.body), nil
}
