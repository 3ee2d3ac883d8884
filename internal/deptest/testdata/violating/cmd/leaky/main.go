// Command leaky imports a stage directly.
package main

import _ "example.com/violating/internal/watcher"

func main() {}
