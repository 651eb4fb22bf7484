package trunk

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
	"time"
)

// random is the Manager's source of randomness (Options.Rand): the epoch of
// its ClientTokens and the jitter of its back-off. A generation counter per
// node and VLAN keeps the tokens of successive creations apart without
// depending on the order in which concurrent calls run.
type random struct {
	mu  sync.Mutex
	src io.Reader
	buf [8]byte

	genMu sync.Mutex
	gens  map[genKey]uint64
}

// genKey names what a generation counts: the branch creations on one VLAN of
// one node, or (vlan 0) the trunk creations of the node.
type genKey struct {
	instance string
	vlan     int
}

func newRandom(src io.Reader) *random {
	if src == nil {
		src = rand.Reader
	}
	return &random{src: src, gens: make(map[genKey]uint64)}
}

// epoch reads the 8 random bytes that tell this Manager's ClientTokens from
// every other Manager's.
func (r *random) epoch() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := io.ReadFull(r.src, r.buf[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(r.buf[:]), nil
}

// float64 returns a draw in [0, 1).
func (r *random) float64() (float64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := io.ReadFull(r.src, r.buf[:]); err != nil {
		return 0, fmt.Errorf("trunk: reading Options.Rand: %w", err)
	}
	return float64(binary.LittleEndian.Uint64(r.buf[:])>>11) / (1 << 53), nil
}

// generation returns the next generation of k, from 1.
func (r *random) generation(instance string, vlan int) string {
	r.genMu.Lock()
	defer r.genMu.Unlock()
	k := genKey{instance, vlan}
	r.gens[k]++
	return strconv.FormatUint(r.gens[k], 10)
}

// backoff returns the wait before the attempt after attempt (1 for the first
// retry) with the formula of the SDK's retry.ExponentialJitterBackoff: a
// uniform draw in [0, 2^attempt) seconds, or maxWait once 2^attempt
// seconds exceed it.
func (r *random) backoff(attempt int, maxWait time.Duration) (time.Duration, error) {
	if float64(attempt) > math.Log2(float64(maxWait)/float64(time.Second)) {
		return maxWait, nil
	}
	b, err := r.float64()
	if err != nil {
		return 0, err
	}
	return time.Duration(b * float64(int64(1)<<uint(attempt)) * float64(time.Second)), nil
}
