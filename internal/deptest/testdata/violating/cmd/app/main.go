// Command app imports a stage's store directly.
package main

import _ "example.com/violating/internal/state"

func main() {}
