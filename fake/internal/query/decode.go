package query

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	smithytime "github.com/aws/smithy-go/time"
)

// Decode fills in, a pointer to an aws-sdk-go-v2 ec2 Input struct such as
// *ec2.CreateNetworkInterfaceInput, from the parameters of a query request.
//
// params must hold only operation parameters: the caller removes protocol
// keys such as Action, Version and query-string signatures. Absent
// parameters leave fields nil; list elements are ordered by their index and
// gaps are closed (SecurityGroupId.1 and SecurityGroupId.3 make a list of
// two).
//
// A parameter the operation does not accept is reported as an *Error with
// code UnknownParameter; a value that does not parse as the field's type, a
// malformed list index or a parameter given more than once as an *Error
// with code InvalidParameterValue. Other errors (wrapping ErrUnsupported)
// mean in is not an EC2 Input type.
func Decode(params url.Values, in any) error {
	v := reflect.ValueOf(in)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("%w: Decode needs a non-nil pointer, got %T", ErrUnsupported, in)
	}
	schema, err := schemaOf(v.Type().Elem())
	if err != nil {
		return err
	}
	root := &param{}
	for key, vals := range params {
		if len(vals) != 1 {
			return &Error{Code: CodeInvalidParameterValue, Message: fmt.Sprintf("The parameter %s was given %d times; give it once.", key, len(vals))}
		}
		p := root
		for _, seg := range strings.Split(key, ".") {
			if p.kids == nil {
				p.kids = map[string]*param{}
			}
			kid, ok := p.kids[seg]
			if !ok {
				kid = &param{key: seg}
				if p != root {
					kid.key = p.key + "." + seg
				}
				p.kids[seg] = kid
			}
			p = kid
		}
		p.val, p.set = vals[0], true
	}
	v.Elem().SetZero()
	return setStruct(schema, root, v.Elem())
}

// param is one node of the dotted parameter names of a request.
type param struct {
	key  string // full parameter name, for error messages
	val  string
	set  bool
	kids map[string]*param
}

// unknown reports p as not recognized, naming the first full parameter
// under it as the client spelled it.
func unknown(p *param) error {
	for !p.set && len(p.kids) > 0 {
		p = p.kids[sortedKeys(p.kids)[0]]
	}
	return &Error{Code: CodeUnknownParameter, Message: fmt.Sprintf("The parameter %s is not recognized", p.key)}
}

func invalid(key, val, want string) error {
	return &Error{Code: CodeInvalidParameterValue, Message: fmt.Sprintf("Value (%s) for parameter %s is invalid. Expected %s.", val, key, want)}
}

// set stores p into v, a settable value of n's Go type.
func set(n *inNode, p *param, v reflect.Value) error {
	if v.Kind() == reflect.Pointer {
		ptr := reflect.New(v.Type().Elem())
		if err := set(n, p, ptr.Elem()); err != nil {
			return err
		}
		v.Set(ptr)
		return nil
	}
	switch n.kind {
	case kindStruct:
		if p.set {
			return unknown(p)
		}
		return setStruct(n, p, v)
	case kindList:
		return setList(n, p, v)
	default:
		if len(p.kids) > 0 {
			return unknown(p.kids[sortedKeys(p.kids)[0]])
		}
		return setScalar(p, v)
	}
}

func setStruct(n *inNode, p *param, v reflect.Value) error {
	for _, name := range sortedKeys(p.kids) {
		kid := p.kids[name]
		f, ok := n.fields[name]
		if !ok {
			return unknown(kid)
		}
		if err := set(f.node, kid, v.Field(f.index)); err != nil {
			return err
		}
	}
	return nil
}

func setList(n *inNode, p *param, v reflect.Value) error {
	if p.set {
		if p.val != "" || len(p.kids) > 0 {
			return unknown(p)
		}
		// "Name=" is the query protocol's spelling of an empty list.
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		return nil
	}
	elems := p
	if n.member != "" && len(p.kids) > 0 {
		for _, k := range sortedKeys(p.kids) {
			if k != n.member {
				return unknown(p.kids[k])
			}
		}
		elems = p.kids[n.member]
	}
	type indexed struct {
		i int
		p *param
	}
	var items []indexed
	for seg, kid := range elems.kids {
		i, err := strconv.Atoi(seg)
		if err != nil || i < 1 || strconv.Itoa(i) != seg {
			return &Error{Code: CodeInvalidParameterValue, Message: fmt.Sprintf("The parameter %s has list index %q; indexes are decimal integers from 1.", kid.key, seg)}
		}
		items = append(items, indexed{i, kid})
	}
	slices.SortFunc(items, func(a, b indexed) int { return a.i - b.i })
	s := reflect.MakeSlice(v.Type(), len(items), len(items))
	for j, it := range items {
		if err := set(n.elem, it.p, s.Index(j)); err != nil {
			return err
		}
	}
	v.Set(s)
	return nil
}

func setScalar(p *param, v reflect.Value) error {
	switch {
	case v.Type() == timeType:
		t, err := smithytime.ParseDateTime(p.val)
		if err != nil {
			return invalid(p.key, p.val, "an ISO 8601 timestamp such as 2016-11-15T10:00:00Z")
		}
		v.Set(reflect.ValueOf(t))
	case v.Kind() == reflect.String:
		v.SetString(p.val)
	case v.Kind() == reflect.Bool:
		switch strings.ToLower(p.val) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return invalid(p.key, p.val, "true or false")
		}
	case v.CanInt():
		i, err := strconv.ParseInt(p.val, 10, v.Type().Bits())
		if err != nil {
			return invalid(p.key, p.val, "an integer")
		}
		v.SetInt(i)
	case v.CanUint():
		i, err := strconv.ParseUint(p.val, 10, v.Type().Bits())
		if err != nil {
			return invalid(p.key, p.val, "a non-negative integer")
		}
		v.SetUint(i)
	case v.CanFloat():
		f, err := strconv.ParseFloat(p.val, v.Type().Bits())
		if err != nil {
			return invalid(p.key, p.val, "a number")
		}
		v.SetFloat(f)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		b, err := base64.StdEncoding.DecodeString(p.val)
		if err != nil {
			return invalid(p.key, p.val, "base64-encoded data")
		}
		v.SetBytes(b)
	default:
		return unknown(p)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
