// Package history may keep the recorder's history in the state: the rule
// is the recorder's only, not its subpackages'.
package history

import _ "example.com/violating/internal/state"
