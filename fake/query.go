package fake

import (
	"encoding/base64"
	"path"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// fieldFunc returns the values a resource has for a filter name, and whether
// the name is a filter of that resource type at all.
type fieldFunc func(name string) (values []string, known bool)

// checkFilters rejects empty and unknown filter names before any resource is
// looked at, as EC2 does even when nothing would match. probe answers for a
// zero resource of the type.
func checkFilters(fs []types.Filter, probe fieldFunc) error {
	for _, flt := range fs {
		name := aws.ToString(flt.Name)
		if name == "" {
			return missing("Filter.Name")
		}
		if strings.HasPrefix(name, "tag:") || name == "tag-key" || name == "tag-value" {
			continue
		}
		if _, ok := probe(name); !ok {
			return invalidValue("The filter '%s' is invalid", name)
		}
	}
	return nil
}

// matchFilters reports whether a resource with the given tags and fields
// passes every filter: filters are ANDed, the values of one filter ORed, and
// values may use the wildcards * and ?.
func matchFilters(fs []types.Filter, t tags, fields fieldFunc) bool {
	return compileFilters(fs).match(t, fields)
}

// filterSet is the filters of one request compiled once, so that a listing
// over many resources does not re-examine every value for each of them: a
// filter's plain values go in a set, its wildcard patterns apart.
type filterSet []compiledFilter

type compiledFilter struct {
	name  string
	exact map[string]bool
	wild  []string
}

func compileFilters(fs []types.Filter) filterSet {
	out := make(filterSet, 0, len(fs))
	for _, flt := range fs {
		cf := compiledFilter{name: aws.ToString(flt.Name), exact: make(map[string]bool, len(flt.Values))}
		for _, v := range flt.Values {
			if strings.ContainsAny(v, "*?") {
				cf.wild = append(cf.wild, v)
			} else {
				cf.exact[v] = true
			}
		}
		out = append(out, cf)
	}
	return out
}

// match reports whether a resource with the given tags and fields passes
// every filter of s.
func (s filterSet) match(t tags, fields fieldFunc) bool {
	for _, cf := range s {
		name := cf.name
		var have []string
		switch {
		case strings.HasPrefix(name, "tag:"):
			if v, ok := t[strings.TrimPrefix(name, "tag:")]; ok {
				have = []string{v}
			}
		case name == "tag-key":
			for k := range t {
				have = append(have, k)
			}
		case name == "tag-value":
			for _, v := range t {
				have = append(have, v)
			}
		default:
			have, _ = fields(name)
		}
		if !cf.any(have) {
			return false
		}
	}
	return true
}

// any reports whether one of have matches one of the filter's values.
func (cf compiledFilter) any(have []string) bool {
	for _, h := range have {
		if cf.exact[h] {
			return true
		}
		for _, p := range cf.wild {
			if wildcard(p, h) {
				return true
			}
		}
	}
	return false
}

// wildcard matches s against an EC2 filter value, where * matches any run of
// characters and ? any single one. Other characters, slashes included, match
// themselves.
func wildcard(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	// path.Match treats '/' specially and '[' and '\\' as syntax: escape
	// them so only * and ? are wildcards, and compare with '/' mapped away.
	var b strings.Builder
	for _, r := range pattern {
		switch r {
		case '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '/':
			b.WriteRune('\x00')
		default:
			b.WriteRune(r)
		}
	}
	ok, err := path.Match(b.String(), strings.ReplaceAll(s, "/", "\x00"))
	return err == nil && ok
}

// page describes the pagination limits of one Describe action.
type page struct {
	idParam  string // name of the ID list parameter, for error messages
	min, max int32
}

// paginate checks MaxResults and NextToken, then returns the slice of ids
// (sorted) that forms the requested page, and the token of the next page.
// haveIDs tells whether the request listed IDs explicitly, which EC2 does
// not allow together with MaxResults.
func (p page) paginate(ids []string, maxResults *int32, nextToken *string, haveIDs bool) ([]string, *string, error) {
	if maxResults != nil {
		if haveIDs && p.idParam != "" {
			return nil, nil, apiError(CodeInvalidParameterCombination,
				"The parameter %s cannot be used with the parameter maxResults", p.idParam)
		}
		if n := *maxResults; n < p.min || n > p.max {
			return nil, nil, invalidValue("Value ( %d ) for parameter maxResults is invalid. "+
				"Expecting a value between %d and %d.", n, p.min, p.max)
		}
	}
	start := 0
	if tok := aws.ToString(nextToken); tok != "" {
		after, err := decodeToken(tok)
		if err != nil {
			return nil, nil, err
		}
		start, _ = slices.BinarySearch(ids, after)
		if start < len(ids) && ids[start] == after {
			start++
		}
	}
	ids = ids[start:]
	if maxResults == nil || int(*maxResults) >= len(ids) {
		return ids, nil, nil
	}
	ids = ids[:*maxResults]
	return ids, aws.String(encodeToken(ids[len(ids)-1])), nil
}

const tokenPrefix = "fake1:"

func encodeToken(after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + after))
}

func decodeToken(tok string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	after, ok := strings.CutPrefix(string(raw), tokenPrefix)
	if err != nil || !ok || after == "" {
		return "", apiError(CodeInvalidPaginationToken, "Invalid pagination token: %s", tok)
	}
	return after, nil
}

// filtered tells the throttler whether a Describe request narrowed its
// result.
func filtered(fs []types.Filter, ids int, maxResults *int32) bool {
	return len(fs) > 0 || ids > 0 || maxResults != nil
}

// dedupe returns ids without repeats, in first-seen order.
func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
