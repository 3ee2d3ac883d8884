// Package reconcile breaks its rule: it calls the API.
package reconcile

import _ "example.com/violating/internal/api"
