package eni

import (
	"log/slog"
	"time"
)

// Options configure a Pool. NewPool checks the fields marked Required; the
// zero value of every other field means its documented default.
type Options struct {
	// Node names the node in errors and logs (its instance ID). Required.
	Node string
	// Limit is the node's branch-ENI limit, 1..MaxBranchVLAN. Required.
	Limit int
	// Policy governs reuse and deletion; the zero Policy gives the defaults.
	Policy Policy
	// Logger receives debug records of transitions; nil logs nothing.
	Logger *slog.Logger
	// OnDue, if set, is called with the time at which Maintain has work to
	// do, whenever that time may have moved earlier (a release, a cooled ENI
	// due for deletion). It is called without the pool's lock held and must
	// not block. A scheduler serving many pools uses it instead of running
	// one goroutine per pool.
	OnDue func(due time.Time)
}
