//go:build linux

package kernel

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// inNetNS runs fn on a fresh OS thread switched into the network namespace
// at path ("" runs fn on the calling goroutine). The thread never returns to
// the Go scheduler's pool in another namespace: if switching back fails,
// the locked thread is discarded when its goroutine ends. Processes that fn
// starts (iptables) inherit the namespace.
func inNetNS(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer target.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			done <- fmt.Errorf("open the current network namespace: %w", err)
			return // the thread stays locked and is discarded
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			done <- fmt.Errorf("enter network namespace %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			done <- ferr
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}
