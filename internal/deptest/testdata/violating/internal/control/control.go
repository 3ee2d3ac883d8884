// Package control breaks its rule: the interface imports the store.
package control

import _ "example.com/violating/internal/state"
