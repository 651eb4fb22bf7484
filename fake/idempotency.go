package fake

import (
	"encoding/json"
	"reflect"
)

const maxClientToken = 64

// idempotently runs a create call with EC2's ClientToken semantics: the first
// successful call with a token is remembered; a retry with the same token and
// the same parameters returns the remembered output without running again;
// the same token with other parameters fails with
// IdempotentParameterMismatch. Failed calls are not remembered. The caller
// holds f.mu.
func idempotently[I, O any](f *EC2, action Action, token *string, in *I, run func() (*O, error)) (*O, error) {
	if token == nil || *token == "" {
		return run()
	}
	if len(*token) > maxClientToken {
		return nil, invalidValue("Value (%s) for parameter clientToken is invalid. It must be at most %d characters long.", *token, maxClientToken)
	}
	key := string(action) + "\x00" + *token
	fp := fingerprint(in)
	if prev, ok := f.tokens[key]; ok {
		if prev.fingerprint != fp {
			return nil, apiError(CodeIdempotentParameterMismatch,
				"Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
		}
		return prev.output.(*O), nil
	}
	out, err := run()
	if err != nil {
		return nil, err
	}
	f.tokens[key] = idempotent{fingerprint: fp, output: out}
	return out, nil
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
