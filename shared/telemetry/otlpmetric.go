//go:build !privops_nootlp

package telemetry

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
)

// metricExporter is an sdkmetric.Exporter over otlpClient: the metric data
// model in OTLP protobuf, as the SDK's own OTLP exporters send it.
type metricExporter struct {
	client      *otlpClient
	temporality sdkmetric.TemporalitySelector
	mu          sync.Mutex
	stopped     bool
}

// newMetricExporter reads OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE
// (cumulative, the default; delta; lowmemory) from env.
func newMetricExporter(c *otlpClient, env func(string) string) (*metricExporter, error) {
	e := &metricExporter{client: c, temporality: sdkmetric.DefaultTemporalitySelector}
	switch v := strings.ToLower(strings.TrimSpace(env("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"))); v {
	case "", "cumulative":
	case "delta":
		e.temporality = func(k sdkmetric.InstrumentKind) metricdata.Temporality {
			switch k {
			case sdkmetric.InstrumentKindUpDownCounter, sdkmetric.InstrumentKindObservableUpDownCounter:
				return metricdata.CumulativeTemporality
			}
			return metricdata.DeltaTemporality
		}
	case "lowmemory":
		e.temporality = func(k sdkmetric.InstrumentKind) metricdata.Temporality {
			switch k {
			case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindHistogram:
				return metricdata.DeltaTemporality
			}
			return metricdata.CumulativeTemporality
		}
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: %q is none of cumulative, delta, lowmemory", v)
	}
	return e, nil
}

func (e *metricExporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return e.temporality(k)
}

func (e *metricExporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

func (e *metricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	e.mu.Lock()
	stopped := e.stopped
	e.mu.Unlock()
	if stopped {
		return nil
	}
	pb, err := resourceMetrics(rm)
	if err != nil {
		return err
	}
	if len(pb.ScopeMetrics) == 0 {
		return nil
	}
	body, err := exportRequest([]*metricspb.ResourceMetrics{pb})
	if err != nil {
		return err
	}
	return e.client.export(ctx, body)
}

// ForceFlush has nothing to flush: Export sends synchronously.
func (e *metricExporter) ForceFlush(ctx context.Context) error { return ctx.Err() }

func (e *metricExporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.stopped = true
	e.mu.Unlock()
	e.client.http.CloseIdleConnections()
	return ctx.Err()
}

// resourceMetrics converts the SDK's data to OTLP. An aggregation it does not
// know is an error naming the metric, never silently dropped.
func resourceMetrics(rm *metricdata.ResourceMetrics) (*metricspb.ResourceMetrics, error) {
	out := &metricspb.ResourceMetrics{Resource: otlpResource(rm.Resource), SchemaUrl: rm.Resource.SchemaURL()}
	for _, sm := range rm.ScopeMetrics {
		s := &metricspb.ScopeMetrics{Scope: &commonpb.InstrumentationScope{Name: sm.Scope.Name, Version: sm.Scope.Version,
			Attributes: keyValues(sm.Scope.Attributes.Iter())}, SchemaUrl: sm.Scope.SchemaURL}
		for _, m := range sm.Metrics {
			pm := &metricspb.Metric{Name: m.Name, Description: m.Description, Unit: m.Unit}
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				pm.Data = &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: numberPoints(d.DataPoints)}}
			case metricdata.Gauge[float64]:
				pm.Data = &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: numberPoints(d.DataPoints)}}
			case metricdata.Sum[int64]:
				pm.Data = &metricspb.Metric_Sum{Sum: &metricspb.Sum{AggregationTemporality: temporality(d.Temporality),
					IsMonotonic: d.IsMonotonic, DataPoints: numberPoints(d.DataPoints)}}
			case metricdata.Sum[float64]:
				pm.Data = &metricspb.Metric_Sum{Sum: &metricspb.Sum{AggregationTemporality: temporality(d.Temporality),
					IsMonotonic: d.IsMonotonic, DataPoints: numberPoints(d.DataPoints)}}
			case metricdata.Histogram[int64]:
				pm.Data = &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{AggregationTemporality: temporality(d.Temporality),
					DataPoints: histogramPoints(d.DataPoints)}}
			case metricdata.Histogram[float64]:
				pm.Data = &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{AggregationTemporality: temporality(d.Temporality),
					DataPoints: histogramPoints(d.DataPoints)}}
			case metricdata.ExponentialHistogram[int64]:
				pm.Data = &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{
					AggregationTemporality: temporality(d.Temporality), DataPoints: expHistogramPoints(d.DataPoints)}}
			case metricdata.ExponentialHistogram[float64]:
				pm.Data = &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{
					AggregationTemporality: temporality(d.Temporality), DataPoints: expHistogramPoints(d.DataPoints)}}
			case metricdata.Summary:
				pm.Data = &metricspb.Metric_Summary{Summary: &metricspb.Summary{DataPoints: summaryPoints(d.DataPoints)}}
			default:
				return nil, fmt.Errorf("metric %s: aggregation %T has no OTLP form here", m.Name, m.Data)
			}
			s.Metrics = append(s.Metrics, pm)
		}
		out.ScopeMetrics = append(out.ScopeMetrics, s)
	}
	return out, nil
}

func otlpResource(r *resource.Resource) *resourcepb.Resource {
	if r == nil {
		return &resourcepb.Resource{}
	}
	return &resourcepb.Resource{Attributes: keyValues(r.Iter())}
}

func temporality(t metricdata.Temporality) metricspb.AggregationTemporality {
	switch t {
	case metricdata.DeltaTemporality:
		return metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
	case metricdata.CumulativeTemporality:
		return metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	}
	return metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_UNSPECIFIED
}

func nanos(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano())
}

func numberPoints[N int64 | float64](dps []metricdata.DataPoint[N]) []*metricspb.NumberDataPoint {
	out := make([]*metricspb.NumberDataPoint, 0, len(dps))
	for _, dp := range dps {
		p := &metricspb.NumberDataPoint{Attributes: keyValues(dp.Attributes.Iter()), StartTimeUnixNano: nanos(dp.StartTime),
			TimeUnixNano: nanos(dp.Time), Exemplars: exemplars(dp.Exemplars)}
		switch v := any(dp.Value).(type) {
		case int64:
			p.Value = &metricspb.NumberDataPoint_AsInt{AsInt: v}
		case float64:
			p.Value = &metricspb.NumberDataPoint_AsDouble{AsDouble: v}
		}
		out = append(out, p)
	}
	return out
}

func histogramPoints[N int64 | float64](dps []metricdata.HistogramDataPoint[N]) []*metricspb.HistogramDataPoint {
	out := make([]*metricspb.HistogramDataPoint, 0, len(dps))
	for _, dp := range dps {
		sum := float64(dp.Sum)
		p := &metricspb.HistogramDataPoint{Attributes: keyValues(dp.Attributes.Iter()), StartTimeUnixNano: nanos(dp.StartTime),
			TimeUnixNano: nanos(dp.Time), Count: dp.Count, Sum: &sum, BucketCounts: dp.BucketCounts,
			ExplicitBounds: dp.Bounds, Exemplars: exemplars(dp.Exemplars)}
		p.Min, p.Max = extremum(dp.Min), extremum(dp.Max)
		out = append(out, p)
	}
	return out
}

func expHistogramPoints[N int64 | float64](dps []metricdata.ExponentialHistogramDataPoint[N]) []*metricspb.ExponentialHistogramDataPoint {
	out := make([]*metricspb.ExponentialHistogramDataPoint, 0, len(dps))
	for _, dp := range dps {
		sum := float64(dp.Sum)
		p := &metricspb.ExponentialHistogramDataPoint{Attributes: keyValues(dp.Attributes.Iter()), StartTimeUnixNano: nanos(dp.StartTime),
			TimeUnixNano: nanos(dp.Time), Count: dp.Count, Sum: &sum, Scale: dp.Scale, ZeroCount: dp.ZeroCount,
			ZeroThreshold: dp.ZeroThreshold, Exemplars: exemplars(dp.Exemplars),
			Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: dp.PositiveBucket.Offset, BucketCounts: dp.PositiveBucket.Counts},
			Negative: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: dp.NegativeBucket.Offset, BucketCounts: dp.NegativeBucket.Counts}}
		p.Min, p.Max = extremum(dp.Min), extremum(dp.Max)
		out = append(out, p)
	}
	return out
}

// extremum is a histogram's minimum or maximum, nil when it has none.
func extremum[N int64 | float64](e metricdata.Extrema[N]) *float64 {
	v, ok := e.Value()
	if !ok {
		return nil
	}
	f := float64(v)
	return &f
}

func summaryPoints(dps []metricdata.SummaryDataPoint) []*metricspb.SummaryDataPoint {
	out := make([]*metricspb.SummaryDataPoint, 0, len(dps))
	for _, dp := range dps {
		p := &metricspb.SummaryDataPoint{Attributes: keyValues(dp.Attributes.Iter()), StartTimeUnixNano: nanos(dp.StartTime),
			TimeUnixNano: nanos(dp.Time), Count: dp.Count, Sum: dp.Sum}
		for _, q := range dp.QuantileValues {
			p.QuantileValues = append(p.QuantileValues, &metricspb.SummaryDataPoint_ValueAtQuantile{Quantile: q.Quantile, Value: q.Value})
		}
		out = append(out, p)
	}
	return out
}

func exemplars[N int64 | float64](es []metricdata.Exemplar[N]) []*metricspb.Exemplar {
	if len(es) == 0 {
		return nil
	}
	out := make([]*metricspb.Exemplar, 0, len(es))
	for _, e := range es {
		p := &metricspb.Exemplar{FilteredAttributes: keyValuesOf(e.FilteredAttributes), TimeUnixNano: nanos(e.Time),
			SpanId: e.SpanID, TraceId: e.TraceID}
		switch v := any(e.Value).(type) {
		case int64:
			p.Value = &metricspb.Exemplar_AsInt{AsInt: v}
		case float64:
			p.Value = &metricspb.Exemplar_AsDouble{AsDouble: v}
		}
		out = append(out, p)
	}
	return out
}

func keyValues(it attribute.Iterator) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for it.Next() {
		kv := it.Attribute()
		out = append(out, &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)})
	}
	return out
}

func keyValuesOf(kvs []attribute.KeyValue) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for _, kv := range kvs {
		out = append(out, &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)})
	}
	return out
}

func anyValue(v attribute.Value) *commonpb.AnyValue {
	switch v.Type() {
	case attribute.BOOL:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}}
	case attribute.INT64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v.AsInt64()}}
	case attribute.FLOAT64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat64()}}
	case attribute.STRING:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v.AsString()}}
	case attribute.BOOLSLICE:
		return array(v.AsBoolSlice(), func(b bool) *commonpb.AnyValue { return anyValue(attribute.BoolValue(b)) })
	case attribute.INT64SLICE:
		return array(v.AsInt64Slice(), func(i int64) *commonpb.AnyValue { return anyValue(attribute.Int64Value(i)) })
	case attribute.FLOAT64SLICE:
		return array(v.AsFloat64Slice(), func(f float64) *commonpb.AnyValue { return anyValue(attribute.Float64Value(f)) })
	case attribute.STRINGSLICE:
		return array(v.AsStringSlice(), func(s string) *commonpb.AnyValue { return anyValue(attribute.StringValue(s)) })
	}
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v.Emit()}}
}

func array[T any](vs []T, conv func(T) *commonpb.AnyValue) *commonpb.AnyValue {
	a := &commonpb.ArrayValue{}
	for _, v := range vs {
		a.Values = append(a.Values, conv(v))
	}
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: a}}
}
