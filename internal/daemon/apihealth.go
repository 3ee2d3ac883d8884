package daemon

import "github.com/ppsync/ppsync/internal/api"

// apiHealth lends the client's outage watch (api.Options.WatchHealth) to
// the status report and the notifier.
type apiHealth struct{ c *api.Client }

// fault describes the outage in progress ("" when the API answers).
func (a *apiHealth) fault() string { return a.c.Fault() }
