// Package activity breaks its rule: the recorder the page reads imports
// the state.
package activity

import _ "example.com/violating/internal/state"
