// Package watcher keeps away from the state but reads the config itself.
package watcher

import _ "example.com/violating/internal/config"
