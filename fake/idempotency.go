package fake

import (
	"encoding/json"
	"reflect"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

const maxClientToken = 64

// clientTokenLifetime is how long EC2 honours a client token: "at least 24
// hours after the termination of the instance" for RunInstances (EC2
// Developer Guide, "Ensuring idempotency in Amazon EC2 API requests",
// RunInstances idempotency). EC2 documents no lifetime for the other
// actions; the fake forgets their tokens the same 24 hours after the call
// that stored them, so a client that counts on a token living longer is
// caught.
const clientTokenLifetime = 24 * time.Hour

// idempotent remembers the outcome of a call made with a ClientToken.
type idempotent struct {
	fingerprint string
	output      any // a private deep copy
	// expires is when the token is forgotten; zero while it does not
	// expire yet (a RunInstances token until its instances terminate).
	expires time.Time
	// instances are the instances a RunInstances token launched.
	instances []string
}

// idempotently runs a call with EC2's ClientToken semantics (EC2 Developer
// Guide, "Ensuring idempotency in Amazon EC2 API requests"):
//
//   - a token is a case-sensitive string of up to 64 ASCII characters;
//   - it is scoped to the account, the region and the action (the same
//     token in another region is another request; the fake is one account
//     in one region);
//   - the first successful call with a token is remembered; a retry with the
//     same token and the same parameters returns its result without acting
//     again, and the same token with other parameters fails with
//     IdempotentParameterMismatch; failed calls are not remembered;
//   - the result is the caller's own copy each time, never shared with
//     other callers, and refresh (when not nil) updates what may vary in it
//     ("the result might contain updated information, such as the current
//     creation status");
//   - the token is forgotten after clientTokenLifetime.
//
// The caller holds f.mu.
func idempotently[I, O any](f *EC2, action Action, token *string, in *I, run func() (*O, error), refresh func(*O)) (*O, error) {
	if token == nil || *token == "" {
		return run()
	}
	if len(*token) > maxClientToken || !ascii(*token) {
		return nil, invalidValue("Value (%s) for parameter clientToken is invalid. It must be at most %d ASCII characters long.", *token, maxClientToken)
	}
	key := string(action) + "\x00" + *token
	fp := fingerprint(in)
	if prev, ok := f.tokens[key]; ok && !f.tokenExpired(prev) {
		if prev.fingerprint != fp {
			return nil, apiError(CodeIdempotentParameterMismatch,
				"Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
		}
		out := deepCopy(prev.output.(*O))
		if refresh != nil {
			refresh(out)
		}
		return out, nil
	}
	out, err := run()
	if err != nil {
		return nil, err
	}
	rec := idempotent{fingerprint: fp, output: deepCopy(out)}
	if ro, ok := any(out).(*ec2.RunInstancesOutput); ok {
		rec.instances = []string{}
		for _, inst := range ro.Instances {
			rec.instances = append(rec.instances, *inst.InstanceId)
		}
	} else {
		rec.expires = f.now.Add(clientTokenLifetime)
	}
	f.sweepTokens()
	f.tokens[key] = rec
	return out, nil
}

// tokenExpired reports whether a remembered token has lapsed. A
// RunInstances token lapses 24 hours after the last of its instances
// terminated.
func (f *EC2) tokenExpired(rec idempotent) bool {
	if rec.instances != nil {
		var last time.Time
		for _, id := range rec.instances {
			inst := f.st.instances[id]
			if inst == nil || inst.state != types.InstanceStateNameTerminated {
				return false
			}
			if inst.terminated.After(last) {
				last = inst.terminated
			}
		}
		return !f.now.Before(last.Add(clientTokenLifetime))
	}
	return !rec.expires.IsZero() && !f.now.Before(rec.expires)
}

// sweepTokens forgets lapsed tokens once the table has doubled since the
// last sweep, so that it stays proportional to the live tokens.
func (f *EC2) sweepTokens() {
	if len(f.tokens) < 2*f.tokensSwept+1024 {
		return
	}
	for k, rec := range f.tokens {
		if f.tokenExpired(rec) {
			delete(f.tokens, k)
		}
	}
	f.tokensSwept = len(f.tokens)
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// fingerprint renders a request without its ClientToken and DryRun fields,
// so that two requests compare equal when their parameters do.
func fingerprint(in any) string {
	v := reflect.ValueOf(in)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	cp := reflect.New(v.Type()).Elem()
	cp.Set(v)
	for _, name := range []string{"ClientToken", "DryRun"} {
		if fv := cp.FieldByName(name); fv.IsValid() && fv.CanSet() {
			fv.SetZero()
		}
	}
	b, err := json.Marshal(cp.Interface())
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// deepCopy returns a copy of v that shares no pointer, slice or map with
// it: outputs are plain data, and a caller that modifies the answer it got
// must not change what another caller gets.
func deepCopy[T any](v *T) *T {
	if v == nil {
		return nil
	}
	return copyValue(reflect.ValueOf(v)).Interface().(*T)
}

func copyValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(copyValue(v.Elem()))
		return p
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			s.Index(i).Set(copyValue(v.Index(i)))
		}
		return s
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		m := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			m.SetMapIndex(it.Key(), copyValue(it.Value()))
		}
		return m
	case reflect.Struct:
		s := reflect.New(v.Type()).Elem()
		s.Set(v) // unexported fields (time.Time's, serde markers) by value
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				s.Field(i).Set(copyValue(v.Field(i)))
			}
		}
		return s
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type()).Elem()
		c.Set(copyValue(v.Elem()))
		return c
	}
	return v
}
