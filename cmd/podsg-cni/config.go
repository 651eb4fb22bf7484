//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/podsg/podsg/api/podeni"
	"github.com/podsg/podsg/enforce"
)

// Defaults of the network configuration.
const (
	defaultStateDir          = "/var/lib/cni/podsg"
	defaultAnnotationTimeout = 30 * time.Second
	defaultPrimaryInterface  = "eth0"
	defaultKubeconfig        = "/etc/cni/net.d/podsg-kubeconfig"
)

// netConf is the plugin's network configuration, as the runtime passes it
// on standard input. Unknown keys are refused, so that a misspelt setting
// does not silently fall back to its default.
type netConf struct {
	// Keys of the CNI specification.
	CNIVersion    string          `json:"cniVersion"`
	Name          string          `json:"name"`
	Type          string          `json:"type"`
	Capabilities  map[string]bool `json:"capabilities,omitempty"`
	RuntimeConfig json.RawMessage `json:"runtimeConfig,omitempty"`
	Args          json.RawMessage `json:"args,omitempty"`
	DNS           types.DNS       `json:"dns,omitzero"`
	RawPrevResult json.RawMessage `json:"prevResult,omitempty"`
	// The attachments GC must keep; libcni sends both spellings.
	ValidAttachments []types.GCAttachment `json:"cni.dev/valid-attachments,omitempty"`
	Attachments      []types.GCAttachment `json:"cni.dev/attachments,omitempty"`

	// The plugin's own keys (see the README's configuration reference).
	Mode              string          `json:"mode,omitempty"`
	TrunkLink         string          `json:"trunkLink,omitempty"`
	PrimaryInterface  string          `json:"primaryInterface,omitempty"`
	PrimaryIP         string          `json:"primaryIP,omitempty"`
	VPCCIDRs          []string        `json:"vpcCIDRs,omitempty"`
	SNATExcludedCIDRs []string        `json:"snatExcludedCIDRs,omitempty"`
	ExternalSNAT      bool            `json:"externalSNAT,omitempty"`
	IPv6              bool            `json:"ipv6,omitempty"`
	DisableNodePort   bool            `json:"disableNodePortSupport,omitempty"`
	DisableEarlyDemux bool            `json:"disableTCPEarlyDemux,omitempty"`
	MTU               int             `json:"mtu,omitempty"`
	VethPrefix        string          `json:"vethPrefix,omitempty"`
	Kubeconfig        string          `json:"kubeconfig,omitempty"`
	AnnotationTimeout string          `json:"annotationTimeout,omitempty"`
	StateDir          string          `json:"stateDir,omitempty"`
	LogFile           string          `json:"logFile,omitempty"`
	LogLevel          string          `json:"logLevel,omitempty"`
	VLANStandIn       *standInConf    `json:"vlanStandIn,omitempty"`
	IPAM              json.RawMessage `json:"ipam,omitempty"` // refused: see validate
}

// standInConf replaces the 802.1Q link of each branch ENI by one end of a
// veth pair whose other end is moved into PeerNetNS, a network namespace
// that plays the VPC. It exists for kernels without the 8021q module (test
// machines, simulations on one host); an EC2 node never sets it.
type standInConf struct {
	// PeerNetNS is the path of the "VPC" network namespace.
	PeerNetNS string `json:"peerNetNS"`
	// PeerPrefix names the VPC end: PeerPrefix followed by the VLAN ID.
	// Nodes sharing one PeerNetNS need distinct prefixes. Default "vpc".
	PeerPrefix string `json:"peerPrefix,omitempty"`
}

// config is a validated network configuration.
type config struct {
	raw               *netConf
	opts              enforce.Options // PrimaryIP may still be unset: see primaryIP
	primaryIPSet      bool
	kubeconfig        string
	annotationTimeout time.Duration
	stateDir          string
	logFile           string
	logLevel          slog.Level
	standIn           *standInConf
}

// configKeys lists every key the configuration accepts, for the message
// about an unknown one.
var configKeys = []string{
	"cniVersion", "name", "type", "capabilities", "runtimeConfig", "args", "dns", "prevResult",
	"mode", "trunkLink", "primaryInterface", "primaryIP", "vpcCIDRs", "snatExcludedCIDRs", "externalSNAT", "ipv6",
	"disableNodePortSupport", "disableTCPEarlyDemux",
	"mtu", "vethPrefix", "kubeconfig", "annotationTimeout", "stateDir", "logFile", "logLevel", "vlanStandIn",
}

// parseConfig decodes and validates the network configuration. Every
// problem is reported, each naming the key, its value and what is
// expected; the error is a *types.Error with code ErrInvalidNetworkConfig
// (or ErrDecodingFailure for JSON that does not parse).
func parseConfig(data []byte) (*config, error) {
	nc := new(netConf)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(nc); err != nil {
		return nil, decodeError(err)
	}
	if dec.More() {
		return nil, types.NewError(types.ErrDecodingFailure, "network configuration: trailing data after the JSON object", "")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, types.NewError(types.ErrDecodingFailure, "network configuration: trailing data after the JSON object", "")
	}
	return validate(nc)
}

func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(the configuration)"
		}
		return types.NewError(types.ErrInvalidNetworkConfig,
			fmt.Sprintf("network configuration: %s: a JSON %s cannot be a %s", field, te.Value, jsonKind(te.Type.Kind().String())), "")
	case errors.As(err, &se):
		return types.NewError(types.ErrDecodingFailure, fmt.Sprintf("network configuration is not valid JSON: %v (at byte %d)", err, se.Offset), "")
	}
	if key, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return types.NewError(types.ErrInvalidNetworkConfig,
			fmt.Sprintf("network configuration: unknown key %s; podsg-cni knows %s", key, strings.Join(configKeys, ", ")), "")
	}
	return types.NewError(types.ErrDecodingFailure, "network configuration: "+err.Error(), "")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64", "uint", "uint64":
		return "number"
	case "slice":
		return "list"
	case "struct", "map", "ptr":
		return "object"
	case "bool":
		return "true or false"
	}
	return goKind
}

func validate(nc *netConf) (*config, error) {
	c := &config{raw: nc}
	var problems []string
	bad := func(key, value, reason string) {
		problems = append(problems, fmt.Sprintf("%s = %s: %s", key, value, reason))
	}

	if nc.IPAM != nil {
		bad("ipam", "{…}", "podsg-cni takes the pod's address from its branch ENI; remove the ipam section")
	}
	mode, err := enforce.ParseMode(nc.Mode)
	switch {
	case nc.Mode == "":
		mode = enforce.Strict
	case err != nil:
		bad("mode", strconv.Quote(nc.Mode), `want "strict" (the default) or "standard"`)
	}
	family := enforce.IPv4
	if nc.IPv6 {
		family = enforce.IPv6
	}
	c.opts = enforce.Options{
		Mode:                   mode,
		Family:                 family,
		TrunkLink:              nc.TrunkLink,
		PrimaryInterface:       nc.PrimaryInterface,
		ExternalSNAT:           nc.ExternalSNAT,
		DisableNodePortSupport: nc.DisableNodePort,
		DisableTCPEarlyDemux:   nc.DisableEarlyDemux,
		MTU:                    nc.MTU,
		VethPrefix:             nc.VethPrefix,
		VPCCIDRs:               parsePrefixes("vpcCIDRs", nc.VPCCIDRs, bad),
		SNATExcludedCIDRs:      parsePrefixes("snatExcludedCIDRs", nc.SNATExcludedCIDRs, bad),
	}
	if nc.TrunkLink == "" {
		bad("trunkLink", `""`, "required: the trunk ENI's link on the node (the parent of the vlan.eth.N links), e.g. \"eth1\"")
	}
	if c.opts.PrimaryInterface == "" {
		c.opts.PrimaryInterface = defaultPrimaryInterface
	}
	if nc.PrimaryIP != "" {
		ip, err := netip.ParseAddr(nc.PrimaryIP)
		if err != nil || !ip.Is4() {
			bad("primaryIP", strconv.Quote(nc.PrimaryIP), "want the node's primary private IPv4 address, or leave it out to use the first IPv4 address of primaryInterface")
		}
		c.opts.PrimaryIP, c.primaryIPSet = ip, true
	}
	if !nc.ExternalSNAT && !nc.IPv6 && len(nc.VPCCIDRs) == 0 {
		bad("vpcCIDRs", "[]", "want the VPC's IPv4 CIDRs (traffic to them is never SNATed), or set externalSNAT")
	}

	// Let the builder check what it knows best (interface names, MTU, veth
	// prefix), with placeholders for what is checked above or detected
	// later.
	probe := c.opts
	probe.PrimaryIP = netip.AddrFrom4([4]byte{192, 0, 2, 1})
	probe.ExternalSNAT = true
	if probe.TrunkLink == "" {
		probe.TrunkLink = "placeholder"
	}
	if _, err := enforce.NewBuilder(probe); err != nil {
		for _, e := range unjoin(err) {
			var fe *enforce.FieldError
			if errors.As(e, &fe) {
				bad(configKey(fe.Field), fe.Value, fe.Reason)
			} else {
				problems = append(problems, e.Error())
			}
		}
	}

	c.kubeconfig = nc.Kubeconfig
	if c.kubeconfig == "" {
		c.kubeconfig = defaultKubeconfig
	} else if !filepath.IsAbs(c.kubeconfig) {
		bad("kubeconfig", strconv.Quote(nc.Kubeconfig), "want an absolute path")
	}
	c.annotationTimeout = defaultAnnotationTimeout
	if nc.AnnotationTimeout != "" {
		d, err := time.ParseDuration(nc.AnnotationTimeout)
		switch {
		case err != nil:
			bad("annotationTimeout", strconv.Quote(nc.AnnotationTimeout), `want a duration like "30s" or "2m"`)
		case d <= 0:
			bad("annotationTimeout", strconv.Quote(nc.AnnotationTimeout), "want a positive duration")
		default:
			c.annotationTimeout = d
		}
	}
	c.stateDir = nc.StateDir
	if c.stateDir == "" {
		c.stateDir = defaultStateDir
	} else if !filepath.IsAbs(c.stateDir) {
		bad("stateDir", strconv.Quote(nc.StateDir), "want an absolute path")
	}
	c.logFile = nc.LogFile
	if c.logFile != "" && !filepath.IsAbs(c.logFile) {
		bad("logFile", strconv.Quote(nc.LogFile), "want an absolute path, or leave it out to log nothing")
	}
	switch strings.ToLower(nc.LogLevel) {
	case "", "info":
		c.logLevel = slog.LevelInfo
	case "debug":
		c.logLevel = slog.LevelDebug
	case "warn", "warning":
		c.logLevel = slog.LevelWarn
	case "error":
		c.logLevel = slog.LevelError
	default:
		bad("logLevel", strconv.Quote(nc.LogLevel), `want "debug", "info" (the default), "warn" or "error"`)
	}
	if s := nc.VLANStandIn; s != nil {
		if !filepath.IsAbs(s.PeerNetNS) {
			bad("vlanStandIn.peerNetNS", strconv.Quote(s.PeerNetNS), "want the absolute path of the network namespace that plays the VPC")
		}
		if s.PeerPrefix == "" {
			s.PeerPrefix = "vpc"
		}
		if len(s.PeerPrefix) > 10 || strings.ContainsAny(s.PeerPrefix, "/: \t\n") {
			bad("vlanStandIn.peerPrefix", strconv.Quote(s.PeerPrefix), "want at most 10 characters usable in an interface name (the VLAN ID follows)")
		}
		c.standIn = s
	}
	if len(problems) > 0 {
		msg := "invalid podsg-cni network configuration: " + problems[0]
		if len(problems) > 1 {
			msg += fmt.Sprintf(" (and %d more problems, see details)", len(problems)-1)
		}
		return nil, types.NewError(types.ErrInvalidNetworkConfig, msg, strings.Join(problems, "; "))
	}
	return c, nil
}

// parsePrefixes parses a list of IPv4 CIDRs, reporting each bad one.
func parsePrefixes(key string, in []string, bad func(key, value, reason string)) []netip.Prefix {
	var out []netip.Prefix
	for i, s := range in {
		p, err := netip.ParsePrefix(s)
		k := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case err != nil || !p.Addr().Is4():
			bad(k, strconv.Quote(s), "want an IPv4 CIDR like 10.0.0.0/16")
		case p.Masked() != p:
			bad(k, strconv.Quote(s), fmt.Sprintf("host bits are set; did you mean %s?", p.Masked()))
		default:
			out = append(out, p)
		}
	}
	return out
}

// configKey maps an enforce.Options field to the configuration key.
func configKey(field string) string {
	switch f := strings.TrimPrefix(field, "Options."); f {
	case "Mode":
		return "mode"
	case "TrunkLink":
		return "trunkLink"
	case "PrimaryInterface":
		return "primaryInterface"
	case "MTU":
		return "mtu"
	case "VethPrefix":
		return "vethPrefix"
	default:
		return f
	}
}

// podAddr is the branch ENI's address a pod gets on this node: its IPv6
// address on an IPv6 node, its private IPv4 address otherwise, as the VPC
// CNI plugin picks by ENABLE_IPv6.
func (c *config) podAddr(b podeni.BranchENI) netip.Addr {
	if c.opts.Family == enforce.IPv6 {
		return b.IPv6
	}
	return b.PrivateIP
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// builder returns the enforce.Builder of this configuration, detecting the
// node's primary IP from primaryInterface when the configuration does not
// give it and SNAT needs it (an IPv6 node has no SNAT). nft says whether the node's iptables is the
// nf_tables variant (it matters to node plans only).
func (c *config) builder(primaryIP func(ifName string) (netip.Addr, error), nft bool) (*enforce.Builder, error) {
	opts := c.opts
	opts.NFTables = nft
	if !c.primaryIPSet && !opts.ExternalSNAT && opts.Family == enforce.IPv4 {
		ip, err := primaryIP(opts.PrimaryInterface)
		if err != nil {
			return nil, types.NewError(types.ErrInvalidNetworkConfig,
				fmt.Sprintf("primaryIP is not set and the node's primary IP cannot be read from %s: %v; set primaryIP", opts.PrimaryInterface, err), "")
		}
		opts.PrimaryIP = ip
	}
	b, err := enforce.NewBuilder(opts)
	if err != nil {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "invalid podsg-cni network configuration: "+err.Error(), "")
	}
	return b, nil
}

// teardownBuilder returns a Builder good for teardown plans, which need
// only the mode and veth prefix: it needs no primary IP, so DEL works even
// when the primary interface has gone.
func (c *config) teardownBuilder() (*enforce.Builder, error) {
	opts := c.opts
	opts.ExternalSNAT = true
	opts.PrimaryIP = netip.Addr{}
	b, err := enforce.NewBuilder(opts)
	if err != nil {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "invalid podsg-cni network configuration: "+err.Error(), "")
	}
	return b, nil
}

// logger returns the plugin's logger: records at logLevel and above,
// appended to logFile; nothing when logFile is not set.
func (c *config) logger() (*slog.Logger, func(), error) {
	if c.logFile == "" {
		return slog.New(slog.DiscardHandler), func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(c.logFile), 0o755); err != nil {
		return nil, nil, types.NewError(types.ErrIOFailure, fmt.Sprintf("logFile %s: %v", c.logFile, err), "")
	}
	f, err := os.OpenFile(c.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, types.NewError(types.ErrIOFailure, fmt.Sprintf("logFile %s: %v", c.logFile, err), "")
	}
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: c.logLevel})), func() { _ = f.Close() }, nil
}

// validAttachments returns the attachments a GC call must keep.
func (c *config) validAttachments() []types.GCAttachment {
	return slices.Concat(c.raw.ValidAttachments, c.raw.Attachments)
}
