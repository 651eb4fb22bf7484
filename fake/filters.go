package fake

import (
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/podsg/podsg/fake/internal/ec2doc"
)

// maxFilterValues is how many filter values EC2 takes in one call, over all
// the filters of the request. Above it EC2 answers FilterLimitExceeded, "The
// maximum number of filter values specified on a single call is 200" (HTTP
// 400), as reported against DescribeInstances in gjbae1212/gossm#31 and #47
// and convox/rack#2205.
const maxFilterValues = 200

// CodeFilterLimitExceeded is EC2's error for more than 200 filter values in
// one call.
const CodeFilterLimitExceeded = "FilterLimitExceeded"

// Evidence is a filter name EC2 accepts for an action although the SDK's
// documentation of the action does not list it, with where that is shown.
type Evidence struct {
	Action Action
	Name   string
	// Source says where real EC2 is seen accepting the name.
	Source string
}

// undocumented is the whole list of filter names the fake accepts beyond
// what the SDK documents. Add a name only with evidence that real EC2
// accepts it: a fake that accepts more than EC2 hides the bug it should
// catch.
var undocumented = []Evidence{
	{
		Action: ActionDescribeTrunkInterfaceAssociations,
		Name:   "trunk-interface-association.trunk-interface-id",
		Source: "the production VPC resource controller lists a trunk's branch associations with this filter " +
			"(aws/amazon-vpc-resource-controller-k8s, pkg/aws/ec2/api/helper.go, DescribeTrunkInterfaceAssociation); " +
			"the SDK documents only gre-key and interface-protocol",
	},
}

// UndocumentedFilters returns the filter names the fake accepts although the
// SDK does not document them, each with its evidence. Every other name an
// action accepts is in the SDK's documentation of the action's Filters
// field. The caller owns the slice.
func UndocumentedFilters() []Evidence { return append([]Evidence(nil), undocumented...) }

// filterField returns the values resource r has for one filter name.
type filterField[R any] func(f *EC2, r R) []string

// filterTable is what one Describe action knows about filters: the names its
// documentation lists (and the evidence list adds), and the fields the fake
// models, by name.
type filterTable[R any] struct {
	action Action
	doc    ec2doc.Input
	fields map[string]filterField[R]
}

func newFilterTable[R any](action Action, fields map[string]filterField[R]) *filterTable[R] {
	doc, _ := ec2doc.Lookup(string(action))
	t := &filterTable[R]{action: action, doc: doc, fields: fields}
	filterTables = append(filterTables, t)
	return t
}

// filterTables lists every table, for the tests that check them against the
// SDK's documentation.
var filterTables []interface {
	tableAction() Action
	modelledNames() []string
	accepts(name string) bool
}

func (t *filterTable[R]) tableAction() Action { return t.action }

func (t *filterTable[R]) modelledNames() []string {
	names := make([]string, 0, len(t.fields))
	for n := range t.fields {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// accepts reports whether EC2 accepts the filter name for the action: the
// SDK documents it, or it is on the evidence list.
func (t *filterTable[R]) accepts(name string) bool {
	if t.doc.Documents(name) {
		return true
	}
	for _, e := range undocumented {
		if e.Action == t.action && e.Name == name {
			return true
		}
	}
	return false
}

// modelled reports whether the fake can evaluate the filter name.
func (t *filterTable[R]) modelled(name string) bool {
	if strings.HasPrefix(name, "tag:") || name == "tag-key" || name == "tag-value" {
		return true
	}
	_, ok := t.fields[name]
	return ok
}

// compile checks fs as EC2 does before looking at any resource, then
// compiles them for matching:
//
//   - more than 200 values in all: FilterLimitExceeded;
//   - a filter without a name: MissingParameter;
//   - a name the action does not accept (see accepts): InvalidParameterValue,
//     "The filter '<name>' is invalid", EC2's own answer;
//   - a name EC2 accepts that the fake does not model: InvalidParameterValue
//     saying so, rather than a filter that silently matches everything or
//     nothing.
func (t *filterTable[R]) compile(fs []types.Filter) (filterSet[R], error) {
	n := 0
	for _, flt := range fs {
		n += len(flt.Values)
	}
	if n > maxFilterValues {
		return nil, apiError(CodeFilterLimitExceeded,
			"The maximum number of filter values specified on a single call is %d", maxFilterValues)
	}
	out := make(filterSet[R], 0, len(fs))
	for _, flt := range fs {
		name := aws.ToString(flt.Name)
		switch {
		case name == "":
			return nil, missing("Filter.Name")
		case !t.accepts(name):
			return nil, invalidValue("The filter '%s' is invalid", name)
		case !t.modelled(name):
			return nil, invalidValue("The filter '%s' is valid for %s, but package fake does not model it; "+
				"filter on another field, or add it to the fake", name, t.action)
		}
		cf := compiledFilter[R]{name: name, field: t.fields[name], exact: make(map[string]bool, len(flt.Values))}
		for _, v := range flt.Values {
			if p, wild := parsePattern(v); wild {
				cf.wild = append(cf.wild, p)
			} else {
				cf.exact[p.literal()] = true
			}
		}
		out = append(out, cf)
	}
	return out, nil
}

// filterSet is the filters of one request, checked and compiled once, so
// that a listing over many resources does not re-examine every value for
// each of them: a filter's plain values go in a set, its wildcard patterns
// apart.
type filterSet[R any] []compiledFilter[R]

type compiledFilter[R any] struct {
	name  string
	field filterField[R] // nil for the tag filters
	exact map[string]bool
	wild  []pattern
}

// match reports whether resource r, with tags t, passes every filter of s:
// filters are ANDed, the values of one filter ORed.
func (s filterSet[R]) match(f *EC2, r R, t tags) bool {
	for _, cf := range s {
		var have []string
		switch {
		case cf.field != nil:
			have = cf.field(f, r)
		case strings.HasPrefix(cf.name, "tag:"):
			if v, ok := t[strings.TrimPrefix(cf.name, "tag:")]; ok {
				have = []string{v}
			}
		case cf.name == "tag-key":
			for k := range t {
				have = append(have, k)
			}
		case cf.name == "tag-value":
			for _, v := range t {
				have = append(have, v)
			}
		}
		if !cf.any(have) {
			return false
		}
	}
	return true
}

// any reports whether one of have matches one of the filter's values.
func (cf compiledFilter[R]) any(have []string) bool {
	for _, h := range have {
		if cf.exact[h] {
			return true
		}
		for _, p := range cf.wild {
			if p.match(h) {
				return true
			}
		}
	}
	return false
}

// pattern is a filter value parsed as EC2 documents it: "*" matches zero or
// more characters, "?" exactly one, and a backslash makes the character after
// it literal, so `\*amazon\?\\` is the literal string `*amazon?\` (EC2 API
// Reference, "Filter", and the filtering sections of the EC2 describe
// operations; a trailing lone backslash stands for itself).
type pattern []patternToken

type patternToken struct {
	r    rune
	kind byte // 0 literal, '*' any run, '?' any one character
}

// parsePattern parses a filter value and reports whether it has a wildcard.
func parsePattern(v string) (pattern, bool) {
	var p pattern
	wild := false
	escaped := false
	for _, r := range v {
		switch {
		case escaped:
			p = append(p, patternToken{r: r})
			escaped = false
		case r == '\\':
			escaped = true
		case r == '*' || r == '?':
			p = append(p, patternToken{kind: byte(r)})
			wild = true
		default:
			p = append(p, patternToken{r: r})
		}
	}
	if escaped {
		p = append(p, patternToken{r: '\\'})
	}
	return p, wild
}

// literal returns the string a pattern without wildcards matches.
func (p pattern) literal() string {
	var b strings.Builder
	for _, t := range p {
		b.WriteRune(t.r)
	}
	return b.String()
}

// match reports whether s matches p entirely, by the classic greedy
// backtracking over the last "*", linear in practice.
func (p pattern) match(s string) bool {
	rs := []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(rs) {
		switch {
		case pi < len(p) && (p[pi].kind == '?' || (p[pi].kind == 0 && p[pi].r == rs[si])):
			pi++
			si++
		case pi < len(p) && p[pi].kind == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi].kind == '*' {
		pi++
	}
	return pi == len(p)
}
