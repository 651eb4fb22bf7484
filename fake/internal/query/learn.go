package query

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go/middleware"
	smithytime "github.com/aws/smithy-go/time"
)

var (
	ec2PkgPath = reflect.TypeFor[ec2.Client]().PkgPath()
	timeType   = reflect.TypeFor[time.Time]()
)

// nodeKind says how a request parameter node is spelled on the wire.
type nodeKind uint8

const (
	kindScalar nodeKind = iota // a single value: Name=value
	kindStruct                 // members joined with dots: Name.Member=value
	kindList                   // 1-based flattened elements: Name.1=value
)

// inNode is the request schema of one Go type, learned from the SDK.
type inNode struct {
	typ    reflect.Type // the Go type, possibly a pointer
	kind   nodeKind
	fields map[string]*inField // kindStruct: wire name → field
	elem   *inNode             // kindList
	member string              // kindList: member name of non-flattened lists ("" in EC2)
}

type inField struct {
	index  int
	goName string
	node   *inNode
}

func newNode(t reflect.Type) *inNode {
	n := &inNode{typ: t}
	base := t
	for base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	switch {
	case base.Kind() == reflect.Struct && base != timeType:
		n.kind = kindStruct
		n.fields = map[string]*inField{}
	case base.Kind() == reflect.Slice && base.Elem().Kind() != reflect.Uint8:
		n.kind = kindList
		n.elem = newNode(base.Elem())
	}
	return n
}

// step is one element of a Go path from an Input to a leaf: a struct field
// index, or -1 for the first element of a list.
type step int

const listElem step = -1

type leaf struct {
	path []step
	typ  reflect.Type
}

// learner fills one Input with sentinels and maps the serialized form back.
type learner struct {
	op      string
	leaves  []leaf
	bools   []int // indexes into leaves of boolean leaves
	strs    map[string]int
	nums    map[int64]int
	times   map[int64]int
	blobs   map[string]int
	onStack map[reflect.Type]bool
}

const numBase = 1_000_000

func (l *learner) add(path []step, t reflect.Type) int {
	l.leaves = append(l.leaves, leaf{path: append([]step(nil), path...), typ: t})
	return len(l.leaves) - 1
}

// build returns a value of type t in which every reachable leaf except
// booleans holds a distinct sentinel and every list has one element.
func (l *learner) build(t reflect.Type, path []step) reflect.Value {
	if t.Kind() == reflect.Pointer {
		inner := l.build(t.Elem(), path)
		if !inner.IsValid() {
			return reflect.Zero(t)
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(inner)
		return p
	}
	v := reflect.New(t).Elem()
	switch {
	case t == timeType:
		i := l.add(path, t)
		ts := time.Unix(int64(1_000_000_000+i*3600), 0).UTC()
		l.times[ts.Unix()] = i
		v.Set(reflect.ValueOf(ts))
	case t.Kind() == reflect.Struct:
		if l.onStack[t] {
			return reflect.Value{}
		}
		l.onStack[t] = true
		defer delete(l.onStack, t)
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fv := l.build(f.Type, append(path, step(i)))
			if fv.IsValid() {
				v.Field(i).Set(fv)
			}
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		i := l.add(path, t)
		b := fmt.Appendf(nil, "blob%d", i)
		l.blobs[string(b)] = i
		v.SetBytes(b)
	case t.Kind() == reflect.Slice:
		ev := l.build(t.Elem(), append(path, listElem))
		if !ev.IsValid() {
			return reflect.Value{}
		}
		v.Set(reflect.Append(v, ev))
	case t.Kind() == reflect.String:
		i := l.add(path, t)
		s := fmt.Sprintf("x%dq", i)
		l.strs[s] = i
		v.SetString(s)
	case t.Kind() == reflect.Bool:
		l.bools = append(l.bools, l.add(path, t))
		// Booleans cannot carry a distinct sentinel; they stay unset here
		// and are learned one at a time by setting each to true in turn.
		return reflect.Value{}
	case v.CanInt():
		i := l.add(path, t)
		l.nums[int64(numBase+i)] = i
		v.SetInt(int64(numBase + i))
	case v.CanUint():
		i := l.add(path, t)
		l.nums[int64(numBase+i)] = i
		v.SetUint(uint64(numBase + i))
	case v.CanFloat():
		i := l.add(path, t)
		l.nums[int64(numBase+i)] = i
		v.SetFloat(float64(numBase + i))
	default:
		// Maps, interfaces (documents) and channels do not occur in EC2
		// inputs; leaving them unset means they are never accepted.
		return reflect.Value{}
	}
	return v
}

// match finds the leaf whose sentinel serialized as s.
func (l *learner) match(s string) (int, bool) {
	if i, ok := l.strs[s]; ok {
		return i, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == float64(int64(f)) {
		if i, ok := l.nums[int64(f)]; ok {
			return i, true
		}
	}
	if ts, err := smithytime.ParseDateTime(s); err == nil {
		if i, ok := l.times[ts.Unix()]; ok {
			return i, true
		}
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		if i, ok := l.blobs[string(b)]; ok {
			return i, true
		}
	}
	return 0, false
}

// insert records that the leaf at path is spelled key on the wire.
func insert(root *inNode, path []step, key string) error {
	segs := strings.Split(key, ".")
	n := root
	i := 0
	next := func() (string, bool) {
		if i >= len(segs) {
			return "", false
		}
		i++
		return segs[i-1], true
	}
	for _, st := range path {
		switch n.kind {
		case kindStruct:
			name, ok := next()
			if !ok {
				return fmt.Errorf("key %q is shorter than its Go path", key)
			}
			base := n.typ
			for base.Kind() == reflect.Pointer {
				base = base.Elem()
			}
			f, seen := n.fields[name]
			if !seen {
				sf := base.Field(int(st))
				f = &inField{index: int(st), goName: sf.Name, node: newNode(sf.Type)}
				n.fields[name] = f
			} else if f.index != int(st) {
				return fmt.Errorf("wire name %q is used by fields %s and %s", name, f.goName, base.Field(int(st)).Name)
			}
			n = f.node
		case kindList:
			seg, ok := next()
			if !ok {
				return fmt.Errorf("key %q is shorter than its Go path", key)
			}
			if seg != "1" {
				n.member = seg
				if seg, ok = next(); !ok || seg != "1" {
					return fmt.Errorf("key %q: list element index not found", key)
				}
			}
			n = n.elem
		default:
			return fmt.Errorf("key %q: Go path continues below a scalar", key)
		}
	}
	if i != len(segs) {
		return fmt.Errorf("key %q is longer than its Go path", key)
	}
	if n.kind != kindScalar {
		return fmt.Errorf("key %q ends on a structure or list", key)
	}
	return nil
}

// at returns the addressable value at path below root, which must have been
// produced by build.
func at(root reflect.Value, path []step) reflect.Value {
	v := root
	for _, st := range path {
		for v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		if st == listElem {
			v = v.Index(0)
		} else {
			v = v.Field(int(st))
		}
	}
	return v
}

type captureKey struct{}

var errCaptured = errors.New("query: request captured")

// captureClient is the HTTP client of the learning ec2.Client: it keeps the
// body of the request and fails it, so nothing leaves the process.
type captureClient struct{}

func (captureClient) Do(r *http.Request) (*http.Response, error) {
	slot, _ := r.Context().Value(captureKey{}).(*[]byte)
	if slot == nil {
		return nil, errors.New("query: learning request without capture slot")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	*slot = body
	return nil, errCaptured
}

var serializerClient = sync.OnceValue(func() *ec2.Client {
	return ec2.New(ec2.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://127.0.0.1:9"),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDQUERYLEARN", "query-learn", ""),
		HTTPClient:   captureClient{},
		Retryer:      aws.NopRetryer{},
		APIOptions: []func(*middleware.Stack) error{func(s *middleware.Stack) error {
			// Sentinel inputs need not satisfy the SDK's required-member
			// checks; only the serializer matters here.
			_, _ = s.Initialize.Remove("OperationInputValidation")
			return nil
		}},
	})
})

// serialize runs in (a *ec2.XxxInput) through the SDK's serializer for
// operation op and returns the parameters of the resulting form, without
// Action and Version.
func serialize(op string, in reflect.Value) (url.Values, error) {
	m := reflect.ValueOf(serializerClient()).MethodByName(op)
	if !m.IsValid() {
		return nil, fmt.Errorf("%w: ec2.Client has no method %s", ErrUnsupported, op)
	}
	var body []byte
	ctx := context.WithValue(context.Background(), captureKey{}, &body)
	out := m.Call([]reflect.Value{reflect.ValueOf(ctx), in})
	if err, _ := out[1].Interface().(error); !errors.Is(err, errCaptured) {
		return nil, fmt.Errorf("serialize %s: %w", op, err)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("serialize %s: %w", op, err)
	}
	form.Del("Action")
	form.Del("Version")
	return form, nil
}

// learn derives the request schema of the Input type t (a struct type named
// XxxInput in package ec2) from the SDK's serializer for operation Xxx.
func learn(t reflect.Type) (*inNode, error) {
	op, err := operationOf(t, "Input")
	if err != nil {
		return nil, err
	}
	if m, ok := reflect.TypeFor[*ec2.Client]().MethodByName(op); !ok || m.Type.NumIn() < 3 || m.Type.In(2) != reflect.PointerTo(t) {
		return nil, fmt.Errorf("%w: %v is not the input of ec2.Client.%s", ErrUnsupported, t, op)
	}
	l := &learner{
		op:      op,
		strs:    map[string]int{},
		nums:    map[int64]int{},
		times:   map[int64]int{},
		blobs:   map[string]int{},
		onStack: map[reflect.Type]bool{},
	}
	in := l.build(reflect.PointerTo(t), nil)
	if !in.IsValid() {
		in = reflect.New(t)
	}
	root := newNode(t)
	form, err := serialize(op, in)
	if err != nil {
		return nil, err
	}
	for key, vals := range form {
		if len(vals) != 1 {
			return nil, fmt.Errorf("learn %s: key %q serialized %d times", op, key, len(vals))
		}
		i, ok := l.match(vals[0])
		if !ok {
			return nil, fmt.Errorf("learn %s: key %q has value %q, which is no sentinel", op, key, vals[0])
		}
		if err := insert(root, l.leaves[i].path, key); err != nil {
			return nil, fmt.Errorf("learn %s: %w", op, err)
		}
	}
	for _, i := range l.bools {
		b := at(in, l.leaves[i].path)
		if b.Kind() == reflect.Pointer {
			b.Set(reflect.ValueOf(aws.Bool(true)).Convert(b.Type()))
		} else {
			b.SetBool(true)
		}
		form, err := serialize(op, in)
		if err != nil {
			return nil, err
		}
		b.SetZero()
		found := 0
		for key, vals := range form {
			if len(vals) == 1 && vals[0] == "true" {
				found++
				if err := insert(root, l.leaves[i].path, key); err != nil {
					return nil, fmt.Errorf("learn %s: %w", op, err)
				}
			}
		}
		if found > 1 {
			return nil, fmt.Errorf("learn %s: one boolean serialized as %d keys", op, found)
		}
	}
	return root, nil
}

// operationOf returns "Xxx" for the ec2 struct type XxxInput (suffix
// "Input") or XxxOutput (suffix "Output").
func operationOf(t reflect.Type, suffix string) (string, error) {
	if t.Kind() != reflect.Struct || t.PkgPath() != ec2PkgPath || !strings.HasSuffix(t.Name(), suffix) || t.Name() == suffix {
		return "", fmt.Errorf("%w: %v is not an aws-sdk-go-v2 ec2 %s type", ErrUnsupported, t, suffix)
	}
	return strings.TrimSuffix(t.Name(), suffix), nil
}

type learned struct {
	once sync.Once
	node *inNode
	err  error
}

var schemas sync.Map // reflect.Type → *learned

func schemaOf(t reflect.Type) (*inNode, error) {
	e, _ := schemas.LoadOrStore(t, &learned{})
	l := e.(*learned)
	l.once.Do(func() { l.node, l.err = learn(t) })
	return l.node, l.err
}
