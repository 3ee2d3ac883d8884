// Package state breaks its rule through a helper.
package state

import _ "example.com/violating/internal/api"
