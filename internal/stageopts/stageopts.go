// Package stageopts translates the config into the options of the
// pipeline's stages: the one place where an [[inbox]] becomes a
// watcher.Inbox and [api] becomes api.Options. The stages themselves know
// nothing of the config file.
package stageopts
