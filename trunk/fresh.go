package trunk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
)

// EC2 is eventually consistent: "the result of an API command you run that
// affects your Amazon EC2 resources might not be immediately visible to all
// subsequent commands you run", and a call that names a resource created
// moments before may answer that it does not exist. EC2 asks its clients to
// "run the Describe command repeatedly, starting with a couple of seconds
// of wait time, and increasing gradually up to five minutes of wait time"
// (EC2 Developer Guide, "Eventual consistency in the Amazon EC2 API").
//
// The Manager remembers the IDs EC2 gave it (ENIs it created, association
// and attachment IDs) with when it got them. A NotFound answer for such an
// ID, until a call naming it has succeeded and for at most settleWindow,
// means "not yet": the call is repeated after settleFirstWait, doubling up
// to settleMaxWait. A NotFound for any other ID (a pod's missing security
// group, an instance, an ENI created by someone else or long ago) is final
// at once.
const (
	// settleWindow is how long after EC2 gave an ID the Manager allows for
	// it to propagate: EC2's guidance bounds the wait at five minutes.
	settleWindow = 5 * time.Minute
	// settleFirstWait and settleMaxWait bound the back-off between calls
	// repeated on NotFound: from about a second (the VPC resource
	// controller polls a new attachment from 1 s, doubling) up to a minute,
	// so that the window is covered in about ten calls.
	settleFirstWait = time.Second
	settleMaxWait   = time.Minute
)

// recentIDs is what the Manager remembers of the IDs EC2 gave it and of the
// ENIs it deleted, for settleWindow. It is safe for concurrent use.
type recentIDs struct {
	mu    sync.Mutex
	ids   map[string]*recentID
	swept int
}

type recentID struct {
	given   time.Time // when EC2 gave the ID (zero: not given, only deleted)
	settled bool      // a call naming it succeeded since
	deleted time.Time // when the Manager deleted it (zero: not deleted)
}

func newRecentIDs() *recentIDs { return &recentIDs{ids: make(map[string]*recentID)} }

func (r *recentIDs) get(id string) *recentID {
	e := r.ids[id]
	if e == nil {
		r.sweep()
		e = &recentID{}
		r.ids[id] = e
	}
	return e
}

// sweep forgets what is older than settleWindow, once the table has
// doubled since the last sweep, so that it stays proportional to what the
// last minutes created. r.mu must be held.
func (r *recentIDs) sweep() {
	if len(r.ids) < 2*r.swept+256 {
		return
	}
	now := time.Now()
	for id, e := range r.ids {
		if now.Sub(e.given) > settleWindow && now.Sub(e.deleted) > settleWindow {
			delete(r.ids, id)
		}
	}
	r.swept = len(r.ids)
}

// given records IDs EC2 has just handed out.
func (r *recentIDs) given(ids ...string) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if id != "" {
			e := r.get(id)
			e.given, e.settled = now, false
		}
	}
}

// settle records that a call naming ids succeeded: EC2 knows them.
func (r *recentIDs) settle(ids ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if e := r.ids[id]; e != nil {
			e.settled = true
		}
	}
}

// deleted records that EC2 deleted the ENI id at the Manager's request.
func (r *recentIDs) markDeleted(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.get(id).deleted = time.Now()
}

// wasDeleted reports whether the Manager deleted the ENI id within
// settleWindow: a listing that still shows it shows the past.
func (r *recentIDs) wasDeleted(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.ids[id]
	return e != nil && !e.deleted.IsZero() && time.Since(e.deleted) <= settleWindow
}

// young reports whether EC2 gave the ID within settleWindow: listings may
// not show it, or what was done to it, yet.
func (r *recentIDs) young(id string) bool {
	_, ok := r.givenAt(id)
	return ok
}

// givenAt returns when EC2 gave id, if it did within settleWindow.
func (r *recentIDs) givenAt(id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.ids[id]
	if e == nil || e.given.IsZero() || time.Since(e.given) > settleWindow {
		return time.Time{}, false
	}
	return e.given, true
}

// unsettled returns when EC2 gave id, if it did within settleWindow and no
// call naming it has succeeded since.
func (r *recentIDs) unsettled(id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.ids[id]
	if e == nil || e.given.IsZero() || e.settled || time.Since(e.given) > settleWindow {
		return time.Time{}, false
	}
	return e.given, true
}

// notFoundPrefix maps EC2's NotFound error codes to the prefix of the IDs
// they are about.
var notFoundPrefix = map[string]string{
	"InvalidNetworkInterfaceID.NotFound": "eni-",
	"InvalidAssociationID.NotFound":      "trunk-assoc-",
	"InvalidAttachmentID.NotFound":       "eni-attach-",
}

// kindOf returns the prefix of id's kind; an attachment ID is not an ENI ID.
func kindOf(id string) string {
	for _, p := range []string{"eni-attach-", "trunk-assoc-", "eni-"} {
		if strings.HasPrefix(id, p) {
			return p
		}
	}
	return ""
}

// notYet reports whether err is EC2's NotFound for one of ids that it gave
// the Manager moments ago and that no call has confirmed since, and if so
// when the earliest of them was given. When the error's message names one
// of ids, only that one counts (AssociateTrunkInterface names a branch and
// a trunk, and only the branch may be fresh).
func (r *recentIDs) notYet(err error, ids []string) (time.Time, bool) {
	code := ErrorCode(err)
	prefix := notFoundPrefix[code]
	if prefix == "" {
		return time.Time{}, false
	}
	var msg string
	if ae, ok := asAPIError(err); ok {
		msg = ae.ErrorMessage()
	}
	var cands []string
	for _, id := range ids {
		if kindOf(id) == prefix {
			cands = append(cands, id)
		}
	}
	var named []string
	for _, id := range cands {
		if msg != "" && strings.Contains(msg, id) {
			named = append(named, id)
		}
	}
	if len(named) > 0 {
		cands = named
	}
	var first time.Time
	ok := false
	for _, id := range cands {
		if at, fresh := r.unsettled(id); fresh && (!ok || at.Before(first)) {
			first, ok = at, true
		}
	}
	return first, ok
}

func asAPIError(err error) (smithy.APIError, bool) {
	var ae smithy.APIError
	ok := errors.As(err, &ae)
	return ae, ok
}

// settleWait returns how long to wait before the next call on an ID given at
// given, after waiting last before the previous one, and false once the
// window has passed.
func settleWait(given time.Time, last time.Duration) (time.Duration, bool) {
	left := settleWindow - time.Since(given)
	if left <= 0 {
		return 0, false
	}
	d := min(max(2*last, settleFirstWait), settleMaxWait)
	return min(d, left), true
}

// callNaming is call for a request that names ids. When EC2 answers
// NotFound for one of them that it gave the Manager moments ago, the call
// is repeated with a growing wait until EC2 knows the ID, the window has
// passed or ctx ends; NotFound for any other ID is returned at once. A
// success settles ids: from then on their NotFound is final.
func callNaming[I, O any](ctx context.Context, m *Manager, action string, p Priority, in *I,
	fn func(context.Context, *I, ...func(*ec2.Options)) (*O, error), ids ...string) (*O, error) {
	var wait time.Duration
	for {
		out, err := call(ctx, m, action, p, in, fn)
		if err == nil {
			m.recent.settle(ids...)
			return out, nil
		}
		given, fresh := m.recent.notYet(err, ids)
		if !fresh || ctx.Err() != nil {
			return nil, err
		}
		d, ok := settleWait(given, wait)
		if !ok {
			return nil, err
		}
		wait = d
		m.metrics.notFoundRetry()
		if serr := sleep(ctx, d); serr != nil {
			return nil, fmt.Errorf("%w (%s not repeated: %w)", err, action, serr)
		}
	}
}
