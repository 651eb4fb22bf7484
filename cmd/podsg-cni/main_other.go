//go:build !linux

// Command podsg-cni is a CNI plugin for Linux nodes; on other systems it
// only says so.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "podsg-cni wires Linux network namespaces and runs only on Linux")
	os.Exit(1)
}
