//go:build !privops_nootlp

package telemetry

import (
	"encoding/binary"
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
)

// pbuf appends the protocol buffers wire format
// (https://protobuf.dev/programming-guides/encoding/): just what the OTLP
// messages this package sends need, on encoding/binary. It is ours so that the
// binary links no protobuf runtime and none of the generated OTLP packages:
// their initialisers (descriptor registration, and one that opens and reads
// the executable) cost every start about 2 ms, telemetry on or off (issue 16).
// The tests decode what it writes with the official packages.
//
// As in proto3, a scalar field at its zero value is left out; the *Field
// methods write it anyway, for oneof members and optional fields, whose
// presence is part of the message.
type pbuf struct{ b []byte }

// Wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

func (p *pbuf) tag(field, wire int) {
	p.b = binary.AppendUvarint(p.b, uint64(field)<<3|uint64(wire))
}

func (p *pbuf) uvarintField(field int, v uint64) {
	p.tag(field, wireVarint)
	p.b = binary.AppendUvarint(p.b, v)
}

func (p *pbuf) uvarint(field int, v uint64) {
	if v != 0 {
		p.uvarintField(field, v)
	}
}

// sint32 is a zigzag-encoded int32.
func (p *pbuf) sint32(field int, v int32) {
	p.uvarint(field, uint64(uint32(v<<1)^uint32(v>>31)))
}

func (p *pbuf) boolean(field int, v bool) {
	if v {
		p.uvarintField(field, 1)
	}
}

func (p *pbuf) fixed64Field(field int, v uint64) {
	p.tag(field, wireFixed64)
	p.b = binary.LittleEndian.AppendUint64(p.b, v)
}

func (p *pbuf) fixed64(field int, v uint64) {
	if v != 0 {
		p.fixed64Field(field, v)
	}
}

func (p *pbuf) double(field int, v float64) { p.fixed64(field, math.Float64bits(v)) }

func (p *pbuf) doubleField(field int, v float64) { p.fixed64Field(field, math.Float64bits(v)) }

func (p *pbuf) fixed32(field int, v uint32) {
	if v != 0 {
		p.tag(field, wireFixed32)
		p.b = binary.LittleEndian.AppendUint32(p.b, v)
	}
}

func (p *pbuf) bytesField(field int, v []byte) {
	p.tag(field, wireBytes)
	p.b = binary.AppendUvarint(p.b, uint64(len(v)))
	p.b = append(p.b, v...)
}

func (p *pbuf) bytes(field int, v []byte) {
	if len(v) != 0 {
		p.bytesField(field, v)
	}
}

func (p *pbuf) str(field int, v string) {
	if v != "" {
		p.strField(field, v)
	}
}

func (p *pbuf) strField(field int, v string) {
	p.tag(field, wireBytes)
	p.b = binary.AppendUvarint(p.b, uint64(len(v)))
	p.b = append(p.b, v...)
}

// message writes field as an embedded message, present even when empty, with
// the content body appends.
func (p *pbuf) message(field int, body func()) {
	p.tag(field, wireBytes)
	start := len(p.b)
	body()
	n := len(p.b) - start
	var l [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(l[:], uint64(n))
	p.b = append(p.b, l[:k]...)             // room for the length
	copy(p.b[start+k:], p.b[start:start+n]) // the content moves up
	copy(p.b[start:], l[:k])
}

func (p *pbuf) packedFixed64(field int, vs []uint64) {
	if len(vs) == 0 {
		return
	}
	p.tag(field, wireBytes)
	p.b = binary.AppendUvarint(p.b, uint64(8*len(vs)))
	for _, v := range vs {
		p.b = binary.LittleEndian.AppendUint64(p.b, v)
	}
}

func (p *pbuf) packedDouble(field int, vs []float64) {
	if len(vs) == 0 {
		return
	}
	p.tag(field, wireBytes)
	p.b = binary.AppendUvarint(p.b, uint64(8*len(vs)))
	for _, v := range vs {
		p.b = binary.LittleEndian.AppendUint64(p.b, math.Float64bits(v))
	}
}

func (p *pbuf) packedUvarint(field int, vs []uint64) {
	if len(vs) == 0 {
		return
	}
	p.message(field, func() {
		for _, v := range vs {
			p.b = binary.AppendUvarint(p.b, v)
		}
	})
}

// The messages of opentelemetry/proto/common/v1 and resource/v1, written as
// the SDK's own OTLP exporters convert them.

// resource writes a Resource (attributes 1); a nil resource is left out.
func (p *pbuf) resource(field int, r *resource.Resource) {
	if r == nil {
		return
	}
	p.message(field, func() { p.attributes(1, r.Iter()) })
}

// scope writes an InstrumentationScope (name 1, version 2, attributes 3); the
// zero scope is left out.
func (p *pbuf) scope(field int, s instrumentation.Scope) {
	if s == (instrumentation.Scope{}) {
		return
	}
	p.message(field, func() {
		p.str(1, s.Name)
		p.str(2, s.Version)
		p.attributes(3, s.Attributes.Iter())
	})
}

// attributes writes each attribute as a repeated KeyValue field.
func (p *pbuf) attributes(field int, it attribute.Iterator) {
	for it.Next() {
		p.keyValue(field, it.Attribute())
	}
}

func (p *pbuf) keyValues(field int, kvs []attribute.KeyValue) {
	for _, kv := range kvs {
		p.keyValue(field, kv)
	}
}

// keyValue writes a KeyValue (key 1, value 2).
func (p *pbuf) keyValue(field int, kv attribute.KeyValue) {
	p.message(field, func() {
		p.str(1, string(kv.Key))
		p.anyValue(2, kv.Value)
	})
}

// anyValue writes an AnyValue, whose oneof is string 1, bool 2, int 3,
// double 4, array 5 (values 1), key-value list 6 (values 1) or bytes 7. An
// empty value has none set; a type the SDK does not know reads "INVALID", as
// the SDK's exporters write it.
func (p *pbuf) anyValue(field int, v attribute.Value) {
	p.message(field, func() {
		switch v.Type() {
		case attribute.EMPTY:
		case attribute.STRING:
			p.strField(1, v.AsString())
		case attribute.BOOL:
			b := uint64(0)
			if v.AsBool() {
				b = 1
			}
			p.uvarintField(2, b)
		case attribute.INT64:
			p.uvarintField(3, uint64(v.AsInt64()))
		case attribute.FLOAT64:
			p.doubleField(4, v.AsFloat64())
		case attribute.BYTESLICE:
			p.bytesField(7, v.AsByteSlice())
		case attribute.BOOLSLICE:
			array(p, 5, v.AsBoolSlice(), attribute.BoolValue)
		case attribute.INT64SLICE:
			array(p, 5, v.AsInt64Slice(), attribute.Int64Value)
		case attribute.FLOAT64SLICE:
			array(p, 5, v.AsFloat64Slice(), attribute.Float64Value)
		case attribute.STRINGSLICE:
			array(p, 5, v.AsStringSlice(), attribute.StringValue)
		case attribute.SLICE:
			array(p, 5, v.AsSlice(), func(v attribute.Value) attribute.Value { return v })
		case attribute.MAP:
			p.message(6, func() { p.keyValues(1, v.AsMap()) })
		default:
			p.strField(1, "INVALID")
		}
	})
}

// array writes an ArrayValue (values 1) of vs.
func array[T any](p *pbuf, field int, vs []T, value func(T) attribute.Value) {
	p.message(field, func() {
		for _, v := range vs {
			p.anyValue(1, value(v))
		}
	})
}

// nanos is t in nanoseconds since the epoch; the zero time and times before
// the epoch are 0, as the SDK's exporters write them.
func nanos(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(max(0, t.UnixNano()))
}
