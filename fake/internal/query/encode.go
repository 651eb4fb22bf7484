package query

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	smithytime "github.com/aws/smithy-go/time"
)

// Namespace is the XML namespace of EC2 API version 2016-11-15.
const Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

// Version is the only EC2 API version the codec speaks.
const Version = "2016-11-15"

// Operations returns, sorted, the operations whose outputs EncodeOutput can
// encode. The caller owns the returned slice.
func Operations() []string { return slices.Clone(operations) }

// SDKVersion returns the aws-sdk-go-v2/service/ec2 version the response
// table was generated from.
func SDKVersion() string { return sdkVersion }

// CheckInput reports whether Decode can fill values of type t (the struct
// type of an EC2 Input, not a pointer), learning its schema if needed.
func CheckInput(t reflect.Type) error {
	_, err := schemaOf(t)
	return err
}

// CheckOutput reports whether EncodeOutput can encode values of type t (the
// struct type of an EC2 Output, not a pointer).
func CheckOutput(t reflect.Type) error {
	op, err := operationOf(t, "Output")
	if err != nil {
		return err
	}
	if _, ok := shapes[t]; !ok {
		return fmt.Errorf("%w: no response table for %s; add it to operations.txt and run go generate", ErrUnsupported, op)
	}
	_, err = fieldsOf(t)
	return err
}

// EncodeOutput writes out, a pointer to an aws-sdk-go-v2 ec2 Output struct
// such as *ec2.CreateNetworkInterfaceOutput, as the XML response EC2 sends
// for action, with the given request ID:
//
//	<CreateNetworkInterfaceResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
//	  <requestId>…</requestId><networkInterface>…</networkInterface>
//	</CreateNetworkInterfaceResponse>
//
// Nil pointers, nil slices and empty enum strings are omitted. Outputs
// without members are answered, as EC2 does, with <return>true</return>.
// Errors wrap ErrUnsupported when out's type is not in the generated table.
func EncodeOutput(w io.Writer, action, requestID string, out any) error {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("%w: EncodeOutput needs a non-nil pointer, got %T", ErrUnsupported, out)
	}
	v = v.Elem()
	if err := CheckOutput(v.Type()); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<" + action + "Response xmlns=\"" + Namespace + "\">")
	writeElement(&b, "requestId", requestID)
	fields, _ := fieldsOf(v.Type())
	if len(fields) == 0 {
		writeElement(&b, "return", "true")
	}
	for _, f := range fields {
		if err := encodeValue(&b, f.element, f.item, v.Field(f.index)); err != nil {
			return err
		}
	}
	b.WriteString("</" + action + "Response>")
	_, err := w.Write(b.Bytes())
	return err
}

// EncodeError writes EC2's error envelope with one error.
func EncodeError(w io.Writer, code, message, requestID string) error {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<Response><Errors><Error>")
	writeElement(&b, "Code", code)
	writeElement(&b, "Message", message)
	b.WriteString("</Error></Errors>")
	writeElement(&b, "RequestID", requestID)
	b.WriteString("</Response>")
	_, err := w.Write(b.Bytes())
	return err
}

func writeElement(b *bytes.Buffer, name, text string) {
	b.WriteString("<" + name + ">")
	_ = xml.EscapeText(b, []byte(text)) // writes to a bytes.Buffer cannot fail
	b.WriteString("</" + name + ">")
}

// outField is a member of a structure resolved to its Go field index.
type outField struct {
	index   int
	element string
	item    string
}

var compiled sync.Map // reflect.Type → compiledFields

type compiledFields struct {
	fields []outField
	err    error
}

// fieldsOf resolves the generated table entry of struct type t.
func fieldsOf(t reflect.Type) ([]outField, error) {
	if c, ok := compiled.Load(t); ok {
		c := c.(compiledFields)
		return c.fields, c.err
	}
	var c compiledFields
	members, ok := shapes[t]
	if !ok {
		c.err = fmt.Errorf("%w: structure %v is not in the response table", ErrUnsupported, t)
	}
	for _, m := range members {
		sf, found := t.FieldByName(m.field)
		if !found || len(sf.Index) != 1 {
			c.err = fmt.Errorf("%w: %v has no field %s; regenerate the response table for this SDK version", ErrUnsupported, t, m.field)
			break
		}
		c.fields = append(c.fields, outField{index: sf.Index[0], element: m.element, item: m.item})
	}
	compiled.Store(t, c)
	return c.fields, c.err
}

// encodeValue writes v as element name; item names the members of a list.
func encodeValue(b *bytes.Buffer, name, item string, v reflect.Value) error {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	t := v.Type()
	switch {
	case t == timeType:
		writeElement(b, name, smithytime.FormatDateTime(v.Interface().(time.Time)))
	case t.Kind() == reflect.Struct:
		fields, err := fieldsOf(t)
		if err != nil {
			return err
		}
		b.WriteString("<" + name + ">")
		for _, f := range fields {
			if err := encodeValue(b, f.element, f.item, v.Field(f.index)); err != nil {
				return err
			}
		}
		b.WriteString("</" + name + ">")
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		if v.IsNil() {
			return nil
		}
		writeElement(b, name, base64.StdEncoding.EncodeToString(v.Bytes()))
	case t.Kind() == reflect.Slice:
		if v.IsNil() {
			return nil
		}
		if item == "" {
			return fmt.Errorf("%w: list %s has no member name in the response table", ErrUnsupported, name)
		}
		b.WriteString("<" + name + ">")
		for i := range v.Len() {
			if err := encodeValue(b, item, "", v.Index(i)); err != nil {
				return err
			}
		}
		b.WriteString("</" + name + ">")
	case t.Kind() == reflect.String:
		// Enums are plain strings in the SDK; "" means unset.
		if v.Len() == 0 && t != reflect.TypeFor[string]() {
			return nil
		}
		writeElement(b, name, v.String())
	case t.Kind() == reflect.Bool:
		writeElement(b, name, strconv.FormatBool(v.Bool()))
	case v.CanInt():
		writeElement(b, name, strconv.FormatInt(v.Int(), 10))
	case v.CanUint():
		writeElement(b, name, strconv.FormatUint(v.Uint(), 10))
	case v.CanFloat():
		writeElement(b, name, strconv.FormatFloat(v.Float(), 'g', -1, t.Bits()))
	default:
		return fmt.Errorf("%w: element %s has Go type %v", ErrUnsupported, name, t)
	}
	return nil
}
