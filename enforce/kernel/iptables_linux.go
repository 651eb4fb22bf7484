//go:build linux

package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strings"

	"github.com/coreos/go-iptables/iptables"
	"github.com/google/nftables"
	"github.com/vishvananda/netns"

	"github.com/podsg/podsg/enforce"
	"github.com/podsg/podsg/enforce/internal/apply"
)

// IPTablesOptions configure an IPTables applier. The zero value works on
// the node's own namespace with the iptables found in PATH.
type IPTablesOptions struct {
	// HostNetNS is the path of the node's network namespace; "" means the
	// namespace of the calling process. iptables runs inside it.
	HostNetNS string
	// Path is the iptables binary ("" finds "iptables" in PATH); either the
	// nf_tables or the legacy variant works.
	Path string
	// Logger receives one debug record per change; nil logs nothing.
	Logger *slog.Logger
}

// IPTables applies the netfilter part of plans: the SNAT and connmark
// chains and the rules that jump to them, by running iptables through
// github.com/coreos/go-iptables, and the nftables table of the connection
// marks on nodes whose iptables is the nf_tables variant, through netlink
// with github.com/google/nftables (the library of the VPC CNI plugin, whose
// expressions it writes). It ignores the routing part (see Netlink and
// enforce.Join). Node plans are idempotent but not transactional: if Apply
// fails half-way, applying the plan again completes it. It is safe for
// concurrent use (iptables serializes itself with its lock).
type IPTables struct {
	opts    IPTablesOptions
	ipt     *iptables.IPTables
	version string // what "iptables --version" prints
	nft     bool
	// beforeChange, when set (by tests), runs before every change.
	beforeChange func(enforce.Change) error
}

// ErrIPTablesVariant is matched (errors.Is) by the error Apply returns for
// a node plan built for the other iptables variant (enforce.Options.NFTables
// does not match IPTables.NFTables).
var ErrIPTablesVariant = errors.New("kernel: the plan is for the other iptables variant")

var _ enforce.Checker = (*IPTables)(nil)

// NewIPTables finds iptables and returns an IPTables applier. A HostNetNS
// that is not an absolute path to an existing file, or a Path that does not
// run as iptables, gives an error matching ErrInvalidOptions; without a Path,
// an error says to install iptables.
func NewIPTables(opts IPTablesOptions) (*IPTables, error) {
	if err := checkNetNS("IPTablesOptions.HostNetNS", opts.HostNetNS); err != nil {
		return nil, err
	}
	var t *IPTables
	if opts.Path != "" {
		ipt, err := iptables.New(iptables.Path(opts.Path))
		if err != nil {
			return nil, fmt.Errorf("%w: IPTablesOptions.Path = %q: %w (give the path of an iptables binary, or \"\" to find it in PATH)", ErrInvalidOptions, opts.Path, err)
		}
		t = &IPTables{opts: opts, ipt: ipt}
	} else {
		ipt, err := iptables.New()
		if err != nil {
			return nil, fmt.Errorf("kernel: iptables: %w (install iptables, or set IPTablesOptions.Path)", err)
		}
		t = &IPTables{opts: opts, ipt: ipt}
	}
	path := opts.Path
	if path == "" {
		path = "iptables"
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("kernel: %s --version: %w", path, err)
	}
	t.version = strings.TrimSpace(string(out))
	// As the VPC CNI plugin decides: anything but "legacy" is nf_tables
	// ("iptables v1.8.9 (nf_tables)", "iptables v1.8.7 (legacy)").
	t.nft = !strings.Contains(t.version, "legacy")
	return t, nil
}

// NFTables reports whether this applier's iptables is the nf_tables
// variant, as "iptables --version" says: build node plans with
// enforce.Options.NFTables set to it.
func (t *IPTables) NFTables() bool { return t.nft }

// Apply applies the netfilter part of p. See enforce.Applier for the
// semantics. A node plan built for the other iptables variant is refused
// (ErrIPTablesVariant) before anything changes: on an nf_tables node the
// VPC CNI plugin keeps the connection marks in nftables, on a legacy node
// in iptables, and each removes the other form.
func (t *IPTables) Apply(ctx context.Context, p *enforce.Plan) error {
	w, pg := &p.Want, &p.Purge
	if len(w.Chains) == 0 && len(w.IPTables) == 0 && len(pg.IPTables) == 0 && len(pg.Chains) == 0 && len(w.ConnmarkTables) == 0 && len(pg.NFTables) == 0 {
		return nil
	}
	if err := t.Check(p); err != nil {
		return err
	}
	step := func(c enforce.Change) error {
		if t.opts.Logger != nil {
			t.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "enforce: "+c.String(), slog.String("plan", p.String()))
		}
		if t.beforeChange != nil {
			return t.beforeChange(c)
		}
		return nil
	}
	nft, done, err := t.nftConn()
	if err != nil {
		return &enforce.StepError{Plan: p.String(), Err: err}
	}
	defer done()
	// The nftables table first, so that connections stay marked while the
	// iptables chain that did it goes away; the other form's table last.
	if err := apply.NFTWant(ctx, nft, p, step); err != nil {
		return err
	}
	if err := inNetNS(t.opts.HostNetNS, func() error { return apply.IPTables(ctx, goIPT{t.ipt}, p, step) }); err != nil {
		return err
	}
	return apply.NFTPurge(ctx, nft, p, step)
}

// Check refuses, with an error matching ErrIPTablesVariant, a node plan
// built for the other iptables variant; enforce.Join calls it before any
// applier changes anything.
func (t *IPTables) Check(p *enforce.Plan) error {
	iptConnmark := slices.ContainsFunc(p.Want.Chains, func(c enforce.Chain) bool { return c.Name == enforce.ConnmarkChain })
	switch {
	case t.nft && iptConnmark:
		return fmt.Errorf("%w: %s: this node's iptables is the nf_tables variant (%s), but the plan keeps the connection marks in iptables chain %s; build it with enforce.Options.NFTables = true (IPTables.NFTables reports it)",
			ErrIPTablesVariant, p, t.version, enforce.ConnmarkChain)
	case !t.nft && len(p.Want.ConnmarkTables) > 0:
		return fmt.Errorf("%w: %s: this node's iptables is the legacy variant (%s), but the plan keeps the connection marks in nftables; build it with enforce.Options.NFTables = false (IPTables.NFTables reports it)",
			ErrIPTablesVariant, p, t.version)
	}
	return nil
}

// nftConn opens nftables in the node's namespace; done releases it.
func (t *IPTables) nftConn() (nftBackend, func(), error) {
	if t.opts.HostNetNS == "" {
		c, err := nftables.New()
		return nftBackend{conn: c}, func() {}, err
	}
	ns, err := netns.GetFromPath(t.opts.HostNetNS)
	if err != nil {
		return nftBackend{}, nil, fmt.Errorf("open network namespace %s: %w", t.opts.HostNetNS, err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		ns.Close()
		return nftBackend{}, nil, fmt.Errorf("nftables in %s: %w", t.opts.HostNetNS, err)
	}
	return nftBackend{conn: c}, func() { ns.Close() }, nil
}

type goIPT struct{ ipt *iptables.IPTables }

func (g goIPT) ChainExists(table, chain string) (bool, error) { return g.ipt.ChainExists(table, chain) }
func (g goIPT) NewChain(table, chain string) error            { return g.ipt.NewChain(table, chain) }

func (g goIPT) RuleCount(table, chain string) (int, error) {
	rs, err := g.ipt.List(table, chain)
	if err != nil {
		return 0, err
	}
	// The first line declares the chain ("-N X" or "-P X ACCEPT").
	return max(len(rs)-1, 0), nil
}

func (g goIPT) Exists(table, chain string, spec []string) (bool, error) {
	return g.ipt.Exists(table, chain, spec...)
}

func (g goIPT) AppendRule(table, chain string, spec []string) error {
	return g.ipt.Append(table, chain, spec...)
}

func (g goIPT) DeleteRule(table, chain string, spec []string) error {
	return g.ipt.Delete(table, chain, spec...)
}

func (g goIPT) ClearChain(table, chain string) error  { return g.ipt.ClearChain(table, chain) }
func (g goIPT) DeleteChain(table, chain string) error { return g.ipt.DeleteChain(table, chain) }
