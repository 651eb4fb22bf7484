//go:build linux

package kernel

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/coreos/go-iptables/iptables"

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

// IPTables applies the iptables part of plans (the SNAT and connmark
// chains and the rules that jump to them) by running iptables through
// github.com/coreos/go-iptables; it ignores the routing part (see Netlink
// and enforce.Join). Node plans are idempotent but not transactional: if Apply
// fails half-way, applying the plan again completes it. It is safe for
// concurrent use (iptables serializes itself with its lock).
type IPTables struct {
	opts IPTablesOptions
	ipt  *iptables.IPTables
}

// NewIPTables finds iptables and returns an IPTables applier. A HostNetNS
// that is not an absolute path to an existing file, or a Path that does not
// run as iptables, gives an error matching ErrInvalidOptions; without a Path,
// an error says to install iptables.
func NewIPTables(opts IPTablesOptions) (*IPTables, error) {
	if err := checkNetNS("IPTablesOptions.HostNetNS", opts.HostNetNS); err != nil {
		return nil, err
	}
	if opts.Path != "" {
		ipt, err := iptables.New(iptables.Path(opts.Path))
		if err != nil {
			return nil, fmt.Errorf("%w: IPTablesOptions.Path = %q: %w (give the path of an iptables binary, or \"\" to find it in PATH)", ErrInvalidOptions, opts.Path, err)
		}
		return &IPTables{opts: opts, ipt: ipt}, nil
	}
	ipt, err := iptables.New()
	if err != nil {
		return nil, fmt.Errorf("kernel: iptables: %w (install iptables, or set IPTablesOptions.Path)", err)
	}
	return &IPTables{opts: opts, ipt: ipt}, nil
}

// Apply applies the iptables part of p. See enforce.Applier for the
// semantics.
func (t *IPTables) Apply(ctx context.Context, p *enforce.Plan) error {
	if len(p.Want.Chains) == 0 && len(p.Want.IPTables) == 0 && len(p.Purge.IPTables) == 0 && len(p.Purge.Chains) == 0 {
		return nil
	}
	return inNetNS(t.opts.HostNetNS, func() error {
		return apply.IPTables(ctx, goIPT{t.ipt}, p, func(c enforce.Change) error {
			if t.opts.Logger != nil {
				t.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "enforce: "+c.String(), slog.String("plan", p.String()))
			}
			return nil
		})
	})
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
