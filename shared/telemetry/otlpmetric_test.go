//go:build !privops_nootlp

package telemetry

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/testing/protocmp"
)

// TestResourceMetricsToOTLP: every aggregation the SDK makes, in its OTLP
// form, with attributes, times, min and max, buckets and exemplars, as the
// official OTLP packages decode our encoding.
func TestResourceMetricsToOTLP(t *testing.T) {
	t.Parallel()
	t0, t1 := time.Unix(100, 0), time.Unix(160, 5)
	set := attribute.NewSet(attribute.String("function", "portal"), attribute.Int("n", 3), attribute.StringSlice("l", []string{"a"}))
	kvs := []*commonpb.KeyValue{ // sorted by key, as attribute sets are
		{Key: "function", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "portal"}}},
		{Key: "l", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{
			Values: []*commonpb.AnyValue{{Value: &commonpb.AnyValue_StringValue{StringValue: "a"}}}}}}},
		{Key: "n", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 3}}},
	}
	f := func(v float64) *float64 { return &v }
	rm := &metricdata.ResourceMetrics{
		Resource: resource.NewSchemaless(attribute.String("service.name", "privops")),
		ScopeMetrics: []metricdata.ScopeMetrics{{Scope: instrumentation.Scope{Name: "github.com/privops/privops", Version: "1"},
			Metrics: []metricdata.Metrics{
				{Name: "g", Unit: "{request}", Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Attributes: set, Time: t1, Value: 7}}}},
				{Name: "s", Description: "d", Data: metricdata.Sum[float64]{Temporality: metricdata.DeltaTemporality, IsMonotonic: true,
					DataPoints: []metricdata.DataPoint[float64]{{Attributes: set, StartTime: t0, Time: t1, Value: 1.5,
						Exemplars: []metricdata.Exemplar[float64]{{Time: t1, Value: 1.5, SpanID: []byte{1, 2, 3, 4, 5, 6, 7, 8}, TraceID: make([]byte, 16)}}}}}},
				{Name: "h", Unit: "s", Data: metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality,
					DataPoints: []metricdata.HistogramDataPoint[float64]{{Attributes: set, StartTime: t0, Time: t1, Count: 3,
						Bounds: []float64{0.1, 1}, BucketCounts: []uint64{1, 1, 1}, Min: metricdata.NewExtrema(0.05), Max: metricdata.NewExtrema(2.0), Sum: 2.55}}}},
				{Name: "e", Data: metricdata.ExponentialHistogram[int64]{Temporality: metricdata.CumulativeTemporality,
					DataPoints: []metricdata.ExponentialHistogramDataPoint[int64]{{Time: t1, Count: 2, Sum: 6, Scale: 1, ZeroCount: 0,
						PositiveBucket: metricdata.ExponentialBucket{Offset: 2, Counts: []uint64{1, 1}}}}}},
				{Name: "q", Data: metricdata.Summary{DataPoints: []metricdata.SummaryDataPoint{{Time: t1, Count: 4, Sum: 10,
					QuantileValues: []metricdata.QuantileValue{{Quantile: 0.5, Value: 2}}}}}},
			}}},
	}
	body, err := metricsRequest(rm)
	if err != nil {
		t.Fatal(err)
	}
	// Decoded by the official packages: what a collector reads.
	got := resources(t, body, func() *metricspb.ResourceMetrics { return &metricspb.ResourceMetrics{} })
	cum, delta := metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE, metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
	want := &metricspb.ResourceMetrics{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "privops"}}}}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Scope: &commonpb.InstrumentationScope{Name: "github.com/privops/privops", Version: "1"},
			Metrics: []*metricspb.Metric{
				{Name: "g", Unit: "{request}", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{
					{Attributes: kvs, TimeUnixNano: uint64(t1.UnixNano()), Value: &metricspb.NumberDataPoint_AsInt{AsInt: 7}}}}}},
				{Name: "s", Description: "d", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{AggregationTemporality: delta, IsMonotonic: true,
					DataPoints: []*metricspb.NumberDataPoint{{Attributes: kvs, StartTimeUnixNano: 100e9, TimeUnixNano: uint64(t1.UnixNano()),
						Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 1.5},
						Exemplars: []*metricspb.Exemplar{{TimeUnixNano: uint64(t1.UnixNano()), Value: &metricspb.Exemplar_AsDouble{AsDouble: 1.5},
							SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}, TraceId: make([]byte, 16)}}}}}}},
				{Name: "h", Unit: "s", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{AggregationTemporality: cum,
					DataPoints: []*metricspb.HistogramDataPoint{{Attributes: kvs, StartTimeUnixNano: 100e9, TimeUnixNano: uint64(t1.UnixNano()),
						Count: 3, Sum: f(2.55), BucketCounts: []uint64{1, 1, 1}, ExplicitBounds: []float64{0.1, 1}, Min: f(0.05), Max: f(2)}}}}},
				{Name: "e", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{AggregationTemporality: cum,
					DataPoints: []*metricspb.ExponentialHistogramDataPoint{{TimeUnixNano: uint64(t1.UnixNano()), Count: 2, Sum: f(6), Scale: 1,
						Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: 2, BucketCounts: []uint64{1, 1}},
						Negative: &metricspb.ExponentialHistogramDataPoint_Buckets{}}}}}},
				{Name: "q", Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{DataPoints: []*metricspb.SummaryDataPoint{
					{TimeUnixNano: uint64(t1.UnixNano()), Count: 4, Sum: 10, QuantileValues: []*metricspb.SummaryDataPoint_ValueAtQuantile{{Quantile: 0.5, Value: 2}}}}}}},
			}}},
	}
	if d := cmp.Diff([]*metricspb.ResourceMetrics{want}, got, protocmp.Transform()); d != "" {
		t.Errorf("OTLP (-want +got):\n%s", d)
	}

	// An aggregation without an OTLP form is an error naming the metric.
	rm.ScopeMetrics[0].Metrics = []metricdata.Metrics{{Name: "odd", Data: nil}}
	if _, err := metricsRequest(rm); err == nil || !strings.Contains(err.Error(), "odd") {
		t.Errorf("unknown aggregation: err = %v, want one naming the metric", err)
	}
}
