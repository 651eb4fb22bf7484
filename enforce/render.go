package enforce

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Command is one process of a rendered plan: an ip, iptables, sysctl or
// nsenter command line.
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

// Script renders p as a readable shell script of ip, iptables and sysctl
// commands (pod-namespace commands through nsenter). Running it as root
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
		c := Command{Args: append([]string{"ip", "rule", "del"}, ruleMatchArgs(m)...), Repeat: true}
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
		r.host(Command{Args: []string{"ip", "link", "set", l.Name, "up"}})
	}
	for _, v := range w.Veths {
		mtu := strconv.Itoa(v.MTU)
		r.host(Command{Args: []string{"ip", "link", "del", v.HostName}, Tolerate: true})
		r.host(Command{Args: []string{"ip", "link", "add", v.HostName, "mtu", mtu, "address", v.HostMAC.String(), "type", "veth", "peer", "name", v.PodName, "mtu", mtu, "netns", p.PodNetNS}})
		r.host(Command{Args: []string{"ip", "link", "set", v.HostName, "up"}})
		r.in(PodNS, Command{Args: []string{"ip", "link", "set", v.PodName, "up"}})
	}
	for _, a := range w.Addrs {
		r.in(a.NS, Command{Args: []string{"ip", "addr", "replace", a.Prefix.String(), "dev", a.Dev}})
	}
	for _, n := range w.Neighbors {
		r.in(n.NS, Command{Args: []string{"ip", "neigh", "replace", n.IP.String(), "lladdr", n.MAC.String(), "dev", n.Dev, "nud", "permanent"}})
	}
	for _, rt := range w.Routes {
		args := []string{"ip", "route", "replace", routeDst(rt.Dst)}
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
			r.host(Command{Args: append([]string{"ip", "rule", "del"}, args...), Tolerate: true})
		}
		r.host(Command{Args: append([]string{"ip", "rule", "add"}, args...)})
	}
	for _, s := range w.Sysctls {
		r.in(s.NS, Command{Args: []string{"sysctl", "-q", "-w", s.Key + "=" + s.Value}})
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
	r.out = append(r.out, late...)
	for _, rule := range p.Purge.IPTables {
		r.host(Command{Args: iptArgs(rule.Table, "-D", rule.Chain, rule.Spec), Repeat: true})
	}
	for _, c := range p.Purge.Chains {
		r.host(Command{Args: []string{"iptables", "-t", c.Table, "-F", c.Name}, Tolerate: true})
		r.host(Command{Args: []string{"iptables", "-t", c.Table, "-X", c.Name}, Tolerate: true})
	}
	for _, l := range p.Purge.Links {
		r.in(l.NS, Command{Args: []string{"ip", "link", "del", l.Name}, Tolerate: true})
	}
	return r.out
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
		c = Command{Args: []string{"ip", "route", "del", routeDst(m.Dst), "table", tableName(m.Table)}, Tolerate: true}
	} else {
		c = Command{Args: []string{"ip", "route", "flush", "table", tableName(m.Table)}, Tolerate: true}
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

// String renders r as the arguments of "ip rule add": "pref 10 iif
// vlan.eth.3 lookup 103".
func (r IPRule) String() string { return strings.Join(ruleArgs(r), " ") }

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
