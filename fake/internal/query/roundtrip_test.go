package query

import (
	"errors"
	"fmt"
	"go/token"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// sdkCompare ignores what the wire does not carry: unexported fields and the
// SDK's per-call result metadata.
var sdkCompare = cmp.FilterPath(func(p cmp.Path) bool {
	sf, ok := p.Last().(cmp.StructField)
	return ok && (!token.IsExported(sf.Name()) || sf.Name() == "ResultMetadata")
}, cmp.Ignore())

// fill returns a value of type t with every reachable field set to a
// pseudo-random value; lists get one to three elements. Strings include XML
// and form metacharacters so escaping is exercised.
func fill(t reflect.Type, r *rand.Rand, onStack map[reflect.Type]bool) reflect.Value {
	if t.Kind() == reflect.Pointer {
		inner := fill(t.Elem(), r, onStack)
		if !inner.IsValid() {
			return reflect.Value{}
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(inner)
		return p
	}
	v := reflect.New(t).Elem()
	switch {
	case t == timeType:
		v.Set(reflect.ValueOf(time.Unix(1_500_000_000+r.Int64N(100_000_000), 0).UTC()))
	case t.Kind() == reflect.Struct:
		if onStack[t] {
			return reflect.Value{}
		}
		onStack[t] = true
		defer delete(onStack, t)
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				if fv := fill(f.Type, r, onStack); fv.IsValid() {
					v.Field(i).Set(fv)
				}
			}
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		v.SetBytes(fmt.Appendf(nil, "bytes-%d", r.IntN(1000)))
	case t.Kind() == reflect.Slice:
		n := 1 + r.IntN(3)
		for range n {
			ev := fill(t.Elem(), r, onStack)
			if !ev.IsValid() {
				return reflect.Value{}
			}
			v.Set(reflect.Append(v, ev))
		}
	case t.Kind() == reflect.String:
		v.SetString([]string{"sg-0123", "a&b<c>\"d'=e", "10.0.0.0/16", "ünï cødé", "x y+z%2F"}[r.IntN(5)] + fmt.Sprint(r.IntN(100)))
	case t.Kind() == reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case v.CanInt():
		v.SetInt(r.Int64N(5000))
	case v.CanFloat():
		v.SetFloat(float64(r.IntN(4000)) / 8)
	default:
		return reflect.Value{}
	}
	return v
}

type opTypes struct {
	method reflect.Value
	in     reflect.Type
	out    reflect.Type
}

func opsOf(t *testing.T, client *ec2.Client) map[string]opTypes {
	t.Helper()
	ops := map[string]opTypes{}
	cv := reflect.ValueOf(client)
	for _, op := range Operations() {
		m := cv.MethodByName(op)
		require.Truef(t, m.IsValid(), "ec2.Client has no method %s", op)
		ops[op] = opTypes{method: m, in: m.Type().In(1).Elem(), out: m.Type().Out(0).Elem()}
	}
	return ops
}

// readOnlyBody hides the io.WriterTo of the SDK's request body. smithy-go's
// body wrapper answers WriteTo with io.EOF once the SDK has closed it, which
// the SDK does as soon as response headers arrive; net/http's final check
// for extra body bytes then fails and closes the connection under a response
// still being read ("use of closed network connection" on large responses).
type readOnlyBody struct{ io.ReadCloser }

type sdkHTTPClient struct{}

func (sdkHTTPClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body = readOnlyBody{r.Body}
	}
	return http.DefaultClient.Do(r)
}

func testClient(url string) *ec2.Client {
	return ec2.New(ec2.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   sdkHTTPClient{},
	})
}

// TestQueryRoundTrip sends a fully populated Input of every operation in the
// response table through the SDK's serializer to Decode, and a fully
// populated Output through EncodeOutput to the SDK's deserializer, and
// checks that both arrive unchanged.
func TestQueryRoundTrip(t *testing.T) {
	var mu sync.Mutex
	var decoded any
	var reply any
	var decodeErr error
	types := map[string]opTypes{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		action := r.PostForm.Get("Action")
		params := r.PostForm
		params.Del("Action")
		params.Del("Version")
		mu.Lock()
		defer mu.Unlock()
		in := reflect.New(types[action].in).Interface()
		decodeErr = Decode(params, in)
		decoded = in
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		if err := EncodeOutput(w, action, "req-1", reply); err != nil {
			decodeErr = errors.Join(decodeErr, err)
		}
	}))
	defer srv.Close()
	client := testClient(srv.URL)
	types = opsOf(t, client)

	for _, op := range Operations() {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("%s/%d", op, seed), func(t *testing.T) {
				ot := types[op]
				r := rand.New(rand.NewPCG(seed, uint64(len(op))))
				in := fill(reflect.PointerTo(ot.in), r, map[reflect.Type]bool{})
				out := fill(reflect.PointerTo(ot.out), r, map[reflect.Type]bool{})
				mu.Lock()
				reply = out.Interface()
				mu.Unlock()

				res := ot.method.Call([]reflect.Value{reflect.ValueOf(t.Context()), in})
				if err, _ := res[1].Interface().(error); err != nil {
					t.Fatalf("%s: %v", op, err)
				}
				mu.Lock()
				defer mu.Unlock()
				require.NoError(t, decodeErr)
				if diff := cmp.Diff(in.Interface(), decoded, sdkCompare); diff != "" {
					t.Errorf("request decoded differently (-sent +decoded):\n%s", diff)
				}
				if diff := cmp.Diff(out.Interface(), res[0].Interface(), sdkCompare); diff != "" {
					t.Errorf("response deserialized differently (-encoded +received):\n%s", diff)
				}
			})
		}
	}
}
