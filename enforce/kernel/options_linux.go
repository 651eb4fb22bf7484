//go:build linux

package kernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrInvalidOptions is matched (errors.Is) by the errors NewNetlink and
// NewIPTables return for bad options; the message names the field, its
// value and what to do.
var ErrInvalidOptions = errors.New("kernel: invalid options")

// checkNetNS checks a HostNetNS option: "" or the absolute path of an
// existing network namespace file.
func checkNetNS(field, path string) error {
	if path == "" {
		return nil
	}
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%w: %s = %q: want the absolute path of the node's network namespace (/proc/1/ns/net, /var/run/netns/NAME), or \"\" for the caller's", ErrInvalidOptions, field, path)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w: %s = %q: %w", ErrInvalidOptions, field, path, err)
	}
	return nil
}
