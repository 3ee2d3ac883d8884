// Package wiring puts the stages together.
package wiring

import _ "example.com/violating/internal/watcher"
