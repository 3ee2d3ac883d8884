// Package api imports net/http, as a client does.
package api

import _ "net/http"
