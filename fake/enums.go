package fake

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// checkEnums refuses a request that gives an enumerated parameter a value
// the service model does not list, as EC2 does: InvalidParameterValue,
// "Value (x) for parameter interfaceType is invalid. Valid values are: …".
// The enumerations are the SDK's own (each enum type's Values method, which
// the SDK generates from the model).
//
// Instance types are left to the fake's instance-type table (Options.Limits):
// EC2 launches types newer than any given SDK's enumeration, and the table,
// not the SDK, says which types the fake knows.
func checkEnums(in any) error {
	return walkEnums(reflect.ValueOf(in), "")
}

var instanceTypeType = reflect.TypeFor[types.InstanceType]()

func walkEnums(v reflect.Value, field string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return walkEnums(v.Elem(), field)
	case reflect.Slice:
		for i := range v.Len() {
			if err := walkEnums(v.Index(i), field); err != nil {
				return err
			}
		}
	case reflect.Struct:
		if !hasEnums(v.Type()) {
			return nil
		}
		t := v.Type()
		for i := range t.NumField() {
			if sf := t.Field(i); sf.IsExported() {
				if err := walkEnums(v.Field(i), sf.Name); err != nil {
					return err
				}
			}
		}
	case reflect.String:
		values, ok := enumValues(v.Type())
		if !ok || v.Len() == 0 || slices.Contains(values, v.String()) {
			return nil
		}
		return invalidValue("Value (%s) for parameter %s is invalid. Valid values are: %s.",
			v.String(), lowerCamel(field), strings.Join(values, ", "))
	}
	return nil
}

var (
	enumCache     sync.Map // reflect.Type → []string (nil: not an enum)
	hasEnumsCache sync.Map // reflect.Type → bool
)

// enumValues returns the values of an SDK enum type, and whether t is one.
func enumValues(t reflect.Type) ([]string, bool) {
	if v, ok := enumCache.Load(t); ok {
		vals := v.([]string)
		return vals, vals != nil
	}
	var vals []string
	if m, ok := t.MethodByName("Values"); ok && t.Kind() == reflect.String && t != instanceTypeType &&
		m.Type.NumIn() == 1 && m.Type.NumOut() == 1 && m.Type.Out(0) == reflect.SliceOf(t) {
		out := m.Func.Call([]reflect.Value{reflect.Zero(t)})[0]
		vals = make([]string, out.Len())
		for i := range vals {
			vals[i] = out.Index(i).String()
		}
	}
	enumCache.Store(t, vals)
	return vals, vals != nil
}

// hasEnums reports whether values of t can hold an enum anywhere.
func hasEnums(t reflect.Type) bool {
	if v, ok := hasEnumsCache.Load(t); ok {
		return v.(bool)
	}
	hasEnumsCache.Store(t, false) // guards recursive types while computing
	found := false
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		found = hasEnums(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if sf := t.Field(i); sf.IsExported() && hasEnums(sf.Type) {
				found = true
				break
			}
		}
	case reflect.String:
		_, found = enumValues(t)
	}
	hasEnumsCache.Store(t, found)
	return found
}

// lowerCamel turns a Go field name into the wire spelling EC2's messages
// use ("InterfaceType" → "interfaceType").
func lowerCamel(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}
