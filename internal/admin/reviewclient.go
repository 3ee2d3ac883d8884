package admin

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/ppsync/ppsync/internal/finish"
)

// ReviewList asks the daemon for the results waiting for review.
func (c *Client) ReviewList(ctx context.Context) (ReviewList, error) {
	var ans ReviewList
	err := c.call(ctx, 10*time.Second, http.MethodGet, "/api/review", nil, &ans)
	return ans, err
}

// ReviewShow asks the daemon for one held result with the API's answer.
func (c *Client) ReviewShow(ctx context.Context, id string) (finish.HeldItem, error) {
	var ans finish.HeldItem
	err := c.call(ctx, 10*time.Second, http.MethodGet, "/api/review/"+url.PathEscape(id), nil, &ans)
	return ans, err
}

// ReviewDecide approves (or rejects) a held result.
func (c *Client) ReviewDecide(ctx context.Context, id string, approve bool, d ReviewDecision) (ReviewAnswer, error) {
	verb := "reject"
	if approve {
		verb = "approve"
	}
	var ans ReviewAnswer
	err := c.call(ctx, 30*time.Second, http.MethodPost, "/api/review/"+url.PathEscape(id)+"/"+verb, d, &ans)
	return ans, err
}
