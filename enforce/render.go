package enforce

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Command is one process of a rendered plan: an ip, iptables, nft, sysctl
// or nsenter command line.
type Command struct {
	// Args is the command line, Args[0] the program.
	Args []string
	// Unless, when set, is run first; Args runs only if Unless fails.
	Unless []string
	// Tolerate says that a failure of Args is expected (deleting what may
	// not exist) and ignored.
	Tolerate bool
	// Repeat says that Args runs again until it fails (deleting every copy
	// of a rule).
	Repeat bool
}

// String renders c as one line of POSIX shell.
func (c Command) String() string {
	cmd := shellJoin(c.Args)
	switch {
	case c.Repeat:
		return "while " + cmd + " 2>/dev/null; do :; done"
	case c.Unless != nil:
		return shellJoin(c.Unless) + " 2>/dev/null || " + cmd
	case c.Tolerate:
		return cmd + " 2>/dev/null || true"
	}
	return cmd
}

// Script renders p as a readable shell script of ip, iptables, nft and
// sysctl commands (pod-namespace commands through nsenter). Running it as root
// leads to the same state as applying p; it is meant for debugging,
// documentation and comparison, and this package never runs it.
func (p *Plan) Script() string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# ")
	b.WriteString(p.Kind.String())
	if p.Pod != "" {
		b.WriteString(" of ")
		b.WriteString(p.Pod)
	}
	b.WriteString(" (")
	b.WriteString(p.Mode.String())
	b.WriteString(" mode)\nset -e\n")
	for _, c := range p.Commands() {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Commands renders p as a list of commands, in the order Script prints
// them: first the purges that also select wanted objects (stale state of
// an earlier pod), then everything in Want, then the other purges.
func (p *Plan) Commands() []Command {
	r := renderer{netns: p.PodNetNS}
	w := &p.Want
	// Purges that overlap Want run first, so that Want is added afterwards.
	var late []Command
	for _, m := range p.Purge.Rules {
		c := Command{Args: append(ipCmd(m.Family, "rule", "del"), ruleMatchArgs(m)...), Repeat: true}
		if overlapsRules(m, w.Rules) {
			r.out = append(r.out, c)
		} else {
			late = append(late, c)
		}
	}
	for _, m := range p.Purge.Routes {
		c := r.routePurge(m)
		if overlapsRoutes(m, w.Routes) {
			r.out = append(r.out, c)
		} else {
			late = append(late, c)
		}
	}
	for _, l := range w.VLANs {
		r.host(Command{Args: []string{"ip", "link", "del", l.Name}, Tolerate: true})
		r.host(Command{Args: []string{"ip", "link", "add", "link", l.Parent, "name", l.Name, "mtu", strconv.Itoa(l.MTU), "address", l.MAC.String(), "type", "vlan", "id", strconv.Itoa(l.VLANID)}})
	}
	for _, v := range w.Veths {
		mtu := strconv.Itoa(v.MTU)
		r.host(Command{Args: []string{"ip", "link", "del", v.HostName}, Tolerate: true})
		r.host(Command{Args: []string{"ip", "link", "add", v.HostName, "mtu", mtu, "address", v.HostMAC.String(), "type", "veth", "peer", "name", v.PodName, "mtu", mtu, "netns", p.PodNetNS}})
	}
	// Sysctls come before links go up: a link's IPv6 settings must hold
	// from its first packet.
	for _, s := range w.Sysctls {
		r.in(s.NS, Command{Args: []string{"sysctl", "-q", "-w", s.Key + "=" + s.Value}, Tolerate: s.Optional})
	}
	for _, l := range w.VLANs {
		r.host(Command{Args: []string{"ip", "link", "set", l.Name, "up"}})
	}
	for _, v := range w.Veths {
		r.host(Command{Args: []string{"ip", "link", "set", v.HostName, "up"}})
		r.in(PodNS, Command{Args: []string{"ip", "link", "set", v.PodName, "up"}})
	}
	for _, a := range w.Addrs {
		args := append(ipCmd(familyOf(a.Prefix.Addr()), "addr"), "replace", a.Prefix.String(), "dev", a.Dev)
		if a.NoDAD {
			args = append(args, "nodad")
		}
		r.in(a.NS, Command{Args: args})
	}
	for _, n := range w.Neighbors {
		r.in(n.NS, Command{Args: append(ipCmd(familyOf(n.IP), "neigh"), "replace", n.IP.String(), "lladdr", n.MAC.String(), "dev", n.Dev, "nud", "permanent")})
	}
	for _, rt := range w.Routes {
		args := append(ipCmd(rt.Family(), "route"), "replace", routeDst(rt.Dst))
		if rt.Gw.IsValid() {
			args = append(args, "via", rt.Gw.String())
		}
		args = append(args, "dev", rt.Dev)
		if rt.Scope == ScopeLink {
			args = append(args, "scope", "link")
		}
		args = append(args, "table", tableName(rt.Table))
		r.in(rt.NS, Command{Args: args})
	}
	for _, rl := range w.Rules {
		args := ruleArgs(rl)
		if !purgedFirst(rl, p.Purge.Rules) {
			r.host(Command{Args: append(ipCmd(rl.Family, "rule", "del"), args...), Tolerate: true})
		}
		r.host(Command{Args: append(ipCmd(rl.Family, "rule", "add"), args...)})
	}
	for _, c := range w.Chains {
		r.host(Command{Args: []string{"iptables", "-t", c.Table, "-N", c.Name}, Tolerate: true})
		r.host(Command{Args: []string{"iptables", "-t", c.Table, "-F", c.Name}})
		for _, spec := range c.Rules {
			r.host(Command{Args: iptArgs(c.Table, "-A", c.Name, spec)})
		}
	}
	for _, rule := range w.IPTables {
		r.host(Command{Args: iptArgs(rule.Table, "-A", rule.Chain, rule.Spec), Unless: iptArgs(rule.Table, "-C", rule.Chain, rule.Spec)})
	}
	for _, t := range w.ConnmarkTables {
		r.out = append(r.out, t.commands()...)
	}
	r.out = append(r.out, late...)
	for _, rule := range p.Purge.IPTables {
		r.host(Command{Args: iptArgs(rule.Table, "-D", rule.Chain, rule.Spec), Repeat: true})
	}
	for _, c := range p.Purge.Chains {
		r.host(Command{Args: []string{"iptables", "-t", c.Table, "-F", c.Name}, Tolerate: true})
		r.host(Command{Args: []string{"iptables", "-t", c.Table, "-X", c.Name}, Tolerate: true})
	}
	for _, t := range p.Purge.NFTables {
		r.host(Command{Args: []string{"nft", "delete", "table", t.Family, t.Name}, Tolerate: true})
	}
	for _, l := range p.Purge.Links {
		r.in(l.NS, Command{Args: []string{"ip", "link", "del", l.Name}, Tolerate: true})
	}
	return r.out
}

// The chains of a ConnmarkTable.
const (
	connmarkBaseChain = "nat-prerouting"
	connmarkMarkChain = "snat-mark"
)

// commands renders the table as nft(8) commands that (re)create it with
// exactly its chains and rules. nft may encode a byte-aligned prefix
// ("ip daddr 10.0.0.0/16") with a shorter comparison than the VPC CNI
// plugin's netlink code, with the same effect; the kernel appliers write
// the plugin's exact expressions.
func (t ConnmarkTable) commands() []Command {
	tbl := []string{"ip", t.Name}
	mark := fmt.Sprintf("%#x", t.Mark)
	nft := func(args ...string) Command { return Command{Args: append([]string{"nft"}, args...)} }
	rule := func(chain string, args ...string) Command {
		return nft(append(append([]string{"add", "rule"}, tbl...), append([]string{chain}, args...)...)...)
	}
	out := []Command{
		nft(append([]string{"add", "table"}, tbl...)...),
		nft(fmt.Sprintf("add chain ip %s %s { type nat hook prerouting priority %d; policy accept; }", t.Name, connmarkBaseChain, ConnmarkPriority)),
		nft(append(append([]string{"add", "chain"}, tbl...), connmarkMarkChain)...),
		nft(append(append([]string{"flush", "chain"}, tbl...), connmarkBaseChain)...),
		nft(append(append([]string{"flush", "chain"}, tbl...), connmarkMarkChain)...),
		rule(connmarkBaseChain, "fib", "daddr", "type", "local", "return"),
		rule(connmarkBaseChain, "iifname", t.VethPrefix+"*", "counter", "jump", connmarkMarkChain),
		rule(connmarkBaseChain, "counter", "meta", "mark", "set", "ct", "mark", "and", mark),
	}
	for _, c := range t.Exempt {
		out = append(out, rule(connmarkMarkChain, "counter", "ip", "daddr", c.String(), "return"))
	}
	return append(out, rule(connmarkMarkChain, "counter", "ct", "mark", "set", "ct", "mark", "or", mark))
}

type renderer struct {
	netns string
	out   []Command
}

func (r *renderer) host(c Command) { r.out = append(r.out, c) }

func (r *renderer) in(ns Namespace, c Command) {
	if ns == PodNS {
		c.Args = append([]string{"nsenter", "--net=" + r.netns}, c.Args...)
	}
	r.out = append(r.out, c)
}

func (r *renderer) routePurge(m RouteMatch) Command {
	var c Command
	if m.Dst.IsValid() {
		c = Command{Args: append(ipCmd(m.Family, "route", "del"), routeDst(m.Dst), "table", tableName(m.Table)), Tolerate: true}
	} else {
		c = Command{Args: append(ipCmd(m.Family, "route", "flush"), "table", tableName(m.Table)), Tolerate: true}
	}
	if m.NS == PodNS {
		c.Args = append([]string{"nsenter", "--net=" + r.netns}, c.Args...)
	}
	return c
}

func overlapsRules(m IPRuleMatch, rules []IPRule) bool {
	for _, r := range rules {
		if m.Matches(r) {
			return true
		}
	}
	return false
}

func purgedFirst(r IPRule, ms []IPRuleMatch) bool {
	for _, m := range ms {
		if m.Matches(r) {
			return true
		}
	}
	return false
}

func overlapsRoutes(m RouteMatch, routes []Route) bool {
	for _, r := range routes {
		if m.Matches(r) {
			return true
		}
	}
	return false
}

// String renders r as the arguments of "ip rule add" ("pref 10 iif
// vlan.eth.3 lookup 103"), which are the same for both families: an IPv6
// rule is added with "ip -6 rule add".
func (r IPRule) String() string { return strings.Join(ruleArgs(r), " ") }

// ipCmd starts an ip(8) command line of the family: "ip" for IPv4 (the
// default of most of its objects), "ip -6" for IPv6.
func ipCmd(f Family, args ...string) []string {
	if f == IPv6 {
		return append([]string{"ip", "-6"}, args...)
	}
	return append([]string{"ip"}, args...)
}

func ruleArgs(r IPRule) []string {
	args := []string{"pref", strconv.Itoa(r.Priority)}
	if r.IIF != "" {
		args = append(args, "iif", r.IIF)
	}
	if r.Src.IsValid() {
		args = append(args, "from", r.Src.String())
	}
	if r.Dst.IsValid() {
		args = append(args, "to", r.Dst.String())
	}
	if r.IPProto != 0 {
		args = append(args, "ipproto", strconv.Itoa(int(r.IPProto)))
	}
	if r.Mask != 0 {
		args = append(args, "fwmark", fmt.Sprintf("%#x/%#x", r.Mark, r.Mask))
	}
	return append(args, "lookup", tableName(r.Table))
}

func ruleMatchArgs(m IPRuleMatch) []string {
	args := []string{"pref", strconv.Itoa(m.Priority)}
	if m.IIF != "" {
		args = append(args, "iif", m.IIF)
	}
	if m.Src.IsValid() {
		args = append(args, "from", m.Src.String())
	}
	if m.Dst.IsValid() {
		args = append(args, "to", m.Dst.String())
	}
	if m.Table != 0 {
		args = append(args, "lookup", tableName(m.Table))
	}
	return args
}

func iptArgs(table, op, chain string, spec []string) []string {
	return append([]string{"iptables", "-w", "-t", table, op, chain}, spec...)
}

func routeDst(p netip.Prefix) string {
	if p.Bits() == 0 {
		return "default"
	}
	return p.String()
}

func tableName(t int) string {
	switch t {
	case TableMain:
		return "main"
	case TableLocal:
		return "local"
	}
	return strconv.Itoa(t)
}

// shellJoin quotes each argument that needs it for POSIX sh.
func shellJoin(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=+,@%", r))
		}) < 0 {
			b.WriteString(a)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}
