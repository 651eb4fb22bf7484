//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/enforce"
	"golang.org/x/sys/unix"
)

// The node keeps one record per attachment (container ID and interface)
// under the state directory, written before the attachment is wired and
// removed after it is torn down, so that DEL and GC can tear down without
// the API server and a crash between the two leaves a record GC finds.
//
//	<stateDir>/lock                          the node lock (flock)
//	<stateDir>/node.json                     which node plan is applied
//	<stateDir>/<network>/<containerID>:<ifName>.json   one attachment
//
// Every change of the node's network state (node plan, pod setup and
// teardown) and of these files happens with the node lock held, so
// concurrent ADD, DEL and GC calls see each other's attachments whole. It
// is an exclusive flock(2) on a file, the way host-local IPAM (which the
// VPC CNI's egress plugin delegates to) serializes concurrent plugin
// processes on one node (containernetworking/plugins,
// plugins/ipam/host-local/backend/disk). The lock is released by the
// kernel when the process exits, even if it is killed.

// stateVersion is the version of the attachment record format.
const stateVersion = 1

// attachment is the record of one wired attachment.
type attachment struct {
	Version     int    `json:"version"`
	Network     string `json:"network"`
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifName"`
	NetNS       string `json:"netns"`
	// The pod.
	Namespace string `json:"podNamespace"`
	Name      string `json:"podName"`
	UID       string `json:"podUID,omitempty"`
	// How it was wired: mode, host veth and branch ENI (the annotation's
	// element 0, in its wire shape).
	Mode     string           `json:"mode"`
	HostVeth string           `json:"hostVeth"`
	Branch   podeni.BranchENI `json:"branch"`
	Created  time.Time        `json:"created"`
}

func (a *attachment) key() types.GCAttachment {
	return types.GCAttachment{ContainerID: a.ContainerID, IfName: a.IfName}
}

// pod returns the enforce.Pod the attachment was wired from.
func (a *attachment) pod() enforce.Pod {
	return enforce.Pod{Namespace: a.Namespace, Name: a.Name, NetNS: a.NetNS, IfName: a.IfName, Branch: a.Branch}
}

// store is the state directory of one node.
type store struct {
	dir  string
	lock *os.File
}

func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, types.NewError(types.ErrIOFailure, fmt.Sprintf("state directory %s: %v", dir, err), "set stateDir to a writable directory on the node")
	}
	return &store{dir: dir}, nil
}

// Lock takes the node lock, waiting for other plugin processes.
func (s *store) Lock() error {
	f, err := os.OpenFile(filepath.Join(s.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return types.NewError(types.ErrIOFailure, fmt.Sprintf("node lock: %v", err), "")
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return types.NewError(types.ErrIOFailure, fmt.Sprintf("node lock %s: %v", f.Name(), err), "")
	}
	s.lock = f
	return nil
}

// Unlock releases the node lock.
func (s *store) Unlock() {
	if s.lock != nil {
		// Closing the only descriptor releases the flock; the kernel
		// releases it at exit anyway, so an error here changes nothing.
		_ = s.lock.Close()
		s.lock = nil
	}
}

func (s *store) path(network, containerID, ifName string) string {
	return filepath.Join(s.dir, network, containerID+":"+ifName+".json")
}

// Get returns the record of an attachment, or nil when there is none.
func (s *store) Get(network, containerID, ifName string) (*attachment, error) {
	return readAttachment(s.path(network, containerID, ifName))
}

func readAttachment(path string) (*attachment, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, types.NewError(types.ErrIOFailure, fmt.Sprintf("attachment record %s: %v", path, err), "")
	}
	a := new(attachment)
	if err := json.Unmarshal(data, a); err != nil || a.Version != stateVersion {
		return nil, types.NewError(types.ErrDecodingFailure,
			fmt.Sprintf("attachment record %s is damaged or of another version (%v)", path, err),
			"remove it after tearing the attachment down by hand")
	}
	return a, nil
}

// Put writes the record of an attachment (atomically: a reader sees the
// old record or the new one).
func (s *store) Put(a *attachment) error {
	dir := filepath.Join(s.dir, a.Network)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return types.NewError(types.ErrIOFailure, fmt.Sprintf("state directory %s: %v", dir, err), "")
	}
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	path := s.path(a.Network, a.ContainerID, a.IfName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return types.NewError(types.ErrIOFailure, fmt.Sprintf("attachment record: %v", err), "")
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return types.NewError(types.ErrIOFailure, fmt.Sprintf("attachment record: %v", err), "")
	}
	return nil
}

// Delete removes the record of an attachment; a missing record is fine.
func (s *store) Delete(network, containerID, ifName string) error {
	err := os.Remove(s.path(network, containerID, ifName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return types.NewError(types.ErrIOFailure, fmt.Sprintf("attachment record: %v", err), "")
	}
	return nil
}

// All returns the records of every network's attachments on the node.
func (s *store) All() ([]*attachment, error) {
	nets, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, types.NewError(types.ErrIOFailure, fmt.Sprintf("state directory: %v", err), "")
	}
	var out []*attachment
	for _, n := range nets {
		if !n.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(s.dir, n.Name()))
		if err != nil {
			return nil, types.NewError(types.ErrIOFailure, fmt.Sprintf("state directory: %v", err), "")
		}
		for _, f := range files {
			if !strings.HasSuffix(f.Name(), ".json") {
				continue
			}
			a, err := readAttachment(filepath.Join(s.dir, n.Name(), f.Name()))
			if err != nil {
				return nil, err
			}
			if a != nil {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// nodeMark records which node plan was applied in which boot and network
// namespace, so that ADD applies it only when it changed or the kernel
// state it made is gone.
type nodeMark struct {
	BootID string `json:"bootID"`
	NetNS  uint64 `json:"netnsInode"`
	// NFTables is the variant of the node's iptables the plan was built
	// for, so that the next ADD can rebuild the plan without running
	// iptables to ask.
	NFTables bool   `json:"nftables"`
	Plan     string `json:"plan"`
}

// currentNodeMark identifies the node plan p, built for the iptables
// variant nft, in this boot and network namespace.
func currentNodeMark(p *enforce.Plan, nft bool) (nodeMark, error) {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return nodeMark{}, fmt.Errorf("read the boot ID: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		return nodeMark{}, fmt.Errorf("identify the network namespace: %w", err)
	}
	plan, err := json.Marshal(p)
	if err != nil {
		return nodeMark{}, err
	}
	return nodeMark{BootID: strings.TrimSpace(string(boot)), NetNS: st.Ino, NFTables: nft, Plan: string(plan)}, nil
}

func (s *store) NodeMark() nodeMark {
	var m nodeMark
	data, err := os.ReadFile(filepath.Join(s.dir, "node.json"))
	if err == nil {
		_ = json.Unmarshal(data, &m) // a damaged mark means: apply again
	}
	return m
}

func (s *store) SetNodeMark(m nodeMark) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	path := filepath.Join(s.dir, "node.json")
	if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// spare removes from teardown plan p whatever another attachment still
// uses: a pod that was set up again under the same name (same host veth)
// before the old container's DEL, a branch whose VLAN ID the trunk gave to
// a newer pod, or a pod IP that moved to another attachment. Tearing those
// down would cut the live pod off.
func spare(p *enforce.Plan, live []*attachment) {
	if len(live) == 0 {
		return
	}
	links := map[string]bool{}
	tables := map[int]bool{}
	ips := map[netip.Prefix]bool{}
	for _, a := range live {
		links[a.HostVeth] = true
		links[enforce.VLANLinkName(a.Branch.VLANID)] = true
		tables[enforce.RouteTable(a.Branch.VLANID)] = true
		ips[netip.PrefixFrom(a.Branch.PrivateIP, 32)] = true
	}
	var ls []enforce.LinkRef
	for _, l := range p.Purge.Links {
		if !links[l.Name] {
			ls = append(ls, l)
		}
	}
	var rs []enforce.IPRuleMatch
	for _, r := range p.Purge.Rules {
		if r.IIF != "" && links[r.IIF] || r.Table != 0 && tables[r.Table] || r.Src.IsValid() && ips[r.Src] || r.Dst.IsValid() && ips[r.Dst] {
			continue
		}
		rs = append(rs, r)
	}
	var routes []enforce.RouteMatch
	for _, r := range p.Purge.Routes {
		if tables[r.Table] || r.Dst.IsValid() && ips[r.Dst] {
			continue
		}
		routes = append(routes, r)
	}
	p.Purge.Links, p.Purge.Rules, p.Purge.Routes = ls, rs, routes
}
