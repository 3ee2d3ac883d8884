package daemon

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ppsync/ppsync/internal/api"
	"github.com/ppsync/ppsync/internal/finish"
)

// documentFetcher is finish.Options.Fetch over the API client: a finished
// document asked for again (free of charge), with a 404 marked as
// finish.ErrResultGone.
func documentFetcher(c *api.Client) func(ctx context.Context, extractionID, documentID string) (json.RawMessage, error) {
	return func(ctx context.Context, extractionID, documentID string) (json.RawMessage, error) {
		doc, err := c.Document(ctx, extractionID, documentID)
		if api.IsNotFound(err) {
			return nil, fmt.Errorf("fetch document %s of job %s: %w: %w", documentID, extractionID, finish.ErrResultGone, err)
		}
		if err != nil {
			return nil, fmt.Errorf("fetch document %s of job %s: %w", documentID, extractionID, err)
		}
		if raw := doc.Raw(); raw != nil {
			return raw, nil
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("encode document %s: %w", documentID, err)
		}
		return raw, nil
	}
}
