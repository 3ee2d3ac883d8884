// Package webui breaks its rule twice: through control to the state, and
// through control/store to bbolt.
package webui

import (
	_ "example.com/violating/internal/control"
	_ "example.com/violating/internal/control/store"
)
