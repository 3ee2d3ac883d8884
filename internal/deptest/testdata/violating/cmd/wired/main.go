// Command wired reaches the watcher through the package that wires it.
package main

import _ "example.com/violating/internal/wiring"

func main() {}
