// Package logx builds the daemon's logger from the [log] settings: text or
// JSON, durations written as text, and names that are not valid UTF-8 kept
// byte for byte.
package logx

import (
	"io"
	"log/slog"
	"strconv"
	"unicode/utf8"

	"github.com/ppsync/ppsync/internal/config"
)

// New builds the logger [log] asks for. Durations are written as
// strings ("1.5s") in both formats. In JSON, a string that is not valid
// UTF-8 (a file name the OS holds byte for byte) is written with Go escapes
// instead of U+FFFD, as the text format already shows it, so no byte of the
// name is lost.
func New(w io.Writer, l config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(l.Level))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationsAsText}
	if l.Format == "json" {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			return escapeInvalidUTF8(groups, durationsAsText(groups, a))
		}
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func durationsAsText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// escapeInvalidUTF8 rewrites a string or error value that is not valid
// UTF-8 as its Go-quoted form without the surrounding quotes: each invalid
// byte becomes \xNN and a backslash becomes \\, so the exact bytes can be
// recovered (strconv.Unquote of the value in quotes). Valid strings are
// left alone.
func escapeInvalidUTF8(_ []string, a slog.Attr) slog.Attr {
	var s string
	switch a.Value.Kind() {
	case slog.KindString:
		s = a.Value.String()
	case slog.KindAny:
		err, ok := a.Value.Any().(error)
		if !ok {
			return a
		}
		s = err.Error()
	default:
		return a
	}
	if utf8.ValidString(s) {
		return a
	}
	q := strconv.Quote(s)
	a.Value = slog.StringValue(q[1 : len(q)-1])
	return a
}
