//go:build race

package webui

// raceEnabled tells tests that time CPU that the race detector slows everything several times.
const raceEnabled = true
