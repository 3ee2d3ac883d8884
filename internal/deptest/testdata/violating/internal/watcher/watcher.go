// Package watcher keeps its rule.
package watcher

import _ "strings"
