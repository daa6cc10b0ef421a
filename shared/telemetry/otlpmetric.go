//go:build !privops_nootlp

package telemetry

import (
	"context"
	"fmt"
	"strings"
	"sync"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// metricExporter is an sdkmetric.Exporter over otlpClient: the metric data
// model in OTLP protobuf (opentelemetry/proto/metrics/v1), as the SDK's own
// OTLP exporters send it.
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
	if stopped || len(rm.ScopeMetrics) == 0 {
		return nil
	}
	body, err := metricsRequest(rm)
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

// metricsRequest encodes an ExportMetricsServiceRequest (resource_metrics 1)
// of rm. An aggregation it does not know is an error naming the metric, never
// silently dropped.
func metricsRequest(rm *metricdata.ResourceMetrics) ([]byte, error) {
	var p pbuf
	var err error
	// ResourceMetrics: resource 1, scope_metrics 2, schema_url 3.
	p.message(1, func() {
		if rm.Resource == nil {
			p.message(1, func() {}) // an empty resource, as before
		} else {
			p.resource(1, rm.Resource)
		}
		for _, sm := range rm.ScopeMetrics {
			// ScopeMetrics: scope 1, metrics 2, schema_url 3.
			p.message(2, func() {
				p.message(1, func() { // the scope, even an empty one
					p.str(1, sm.Scope.Name)
					p.str(2, sm.Scope.Version)
					p.attributes(3, sm.Scope.Attributes.Iter())
				})
				for _, m := range sm.Metrics {
					if err == nil {
						err = p.metric(2, m)
					}
				}
				p.str(3, sm.Scope.SchemaURL)
			})
		}
		p.str(3, rm.Resource.SchemaURL())
	})
	if err != nil {
		return nil, err
	}
	return p.b, nil
}

// metric writes a Metric: name 1, description 2, unit 3, and one of gauge 5
// (data_points 1), sum 7 (data_points 1, temporality 2, is_monotonic 3),
// histogram 9 and exponential_histogram 10 (data_points 1, temporality 2), or
// summary 11 (data_points 1).
func (p *pbuf) metric(field int, m metricdata.Metrics) error {
	var err error
	p.message(field, func() {
		p.str(1, m.Name)
		p.str(2, m.Description)
		p.str(3, m.Unit)
		switch d := m.Data.(type) {
		case metricdata.Gauge[int64]:
			p.message(5, func() { numberPoints(p, d.DataPoints) })
		case metricdata.Gauge[float64]:
			p.message(5, func() { numberPoints(p, d.DataPoints) })
		case metricdata.Sum[int64]:
			p.message(7, func() { numberPoints(p, d.DataPoints); p.sumHeader(d.Temporality, d.IsMonotonic) })
		case metricdata.Sum[float64]:
			p.message(7, func() { numberPoints(p, d.DataPoints); p.sumHeader(d.Temporality, d.IsMonotonic) })
		case metricdata.Histogram[int64]:
			p.message(9, func() { histogramPoints(p, d.DataPoints); p.uvarint(2, temporality(d.Temporality)) })
		case metricdata.Histogram[float64]:
			p.message(9, func() { histogramPoints(p, d.DataPoints); p.uvarint(2, temporality(d.Temporality)) })
		case metricdata.ExponentialHistogram[int64]:
			p.message(10, func() { expHistogramPoints(p, d.DataPoints); p.uvarint(2, temporality(d.Temporality)) })
		case metricdata.ExponentialHistogram[float64]:
			p.message(10, func() { expHistogramPoints(p, d.DataPoints); p.uvarint(2, temporality(d.Temporality)) })
		case metricdata.Summary:
			p.message(11, func() { summaryPoints(p, d.DataPoints) })
		default:
			err = fmt.Errorf("metric %s: aggregation %T has no OTLP form here", m.Name, m.Data)
		}
	})
	return err
}

func (p *pbuf) sumHeader(t metricdata.Temporality, monotonic bool) {
	p.uvarint(2, temporality(t))
	p.boolean(3, monotonic)
}

// temporality is the OTLP AggregationTemporality: unspecified 0, delta 1,
// cumulative 2.
func temporality(t metricdata.Temporality) uint64 {
	switch t {
	case metricdata.DeltaTemporality:
		return 1
	case metricdata.CumulativeTemporality:
		return 2
	}
	return 0
}

// numberPoints writes NumberDataPoints (data_points 1): start 2, time 3,
// as_double 4, exemplars 5, as_int 6, attributes 7.
func numberPoints[N int64 | float64](p *pbuf, dps []metricdata.DataPoint[N]) {
	for _, dp := range dps {
		p.message(1, func() {
			p.fixed64(2, nanos(dp.StartTime))
			p.fixed64(3, nanos(dp.Time))
			p.number(4, 6, dp.Value)
			exemplars(p, 5, dp.Exemplars)
			p.attributes(7, dp.Attributes.Iter())
		})
	}
}

// number writes a oneof of as_double (asDouble) or as_int (asInt), both
// fixed64.
func (p *pbuf) number(asDouble, asInt int, v any) {
	switch v := v.(type) {
	case int64:
		p.fixed64Field(asInt, uint64(v))
	case float64:
		p.doubleField(asDouble, v)
	}
}

// histogramPoints writes HistogramDataPoints (data_points 1): start 2, time 3,
// count 4, sum 5, bucket_counts 6, explicit_bounds 7, exemplars 8,
// attributes 9, min 11, max 12.
func histogramPoints[N int64 | float64](p *pbuf, dps []metricdata.HistogramDataPoint[N]) {
	for _, dp := range dps {
		p.message(1, func() {
			p.fixed64(2, nanos(dp.StartTime))
			p.fixed64(3, nanos(dp.Time))
			p.fixed64(4, dp.Count)
			p.doubleField(5, float64(dp.Sum))
			p.packedFixed64(6, dp.BucketCounts)
			p.packedDouble(7, dp.Bounds)
			exemplars(p, 8, dp.Exemplars)
			p.attributes(9, dp.Attributes.Iter())
			extremum(p, 11, dp.Min)
			extremum(p, 12, dp.Max)
		})
	}
}

// expHistogramPoints writes ExponentialHistogramDataPoints (data_points 1):
// attributes 1, start 2, time 3, count 4, sum 5, scale 6, zero_count 7,
// positive 8 and negative 9 (offset 1, bucket_counts 2), exemplars 11,
// min 12, max 13, zero_threshold 14.
func expHistogramPoints[N int64 | float64](p *pbuf, dps []metricdata.ExponentialHistogramDataPoint[N]) {
	for _, dp := range dps {
		p.message(1, func() {
			p.attributes(1, dp.Attributes.Iter())
			p.fixed64(2, nanos(dp.StartTime))
			p.fixed64(3, nanos(dp.Time))
			p.fixed64(4, dp.Count)
			p.doubleField(5, float64(dp.Sum))
			p.sint32(6, dp.Scale)
			p.fixed64(7, dp.ZeroCount)
			p.buckets(8, dp.PositiveBucket)
			p.buckets(9, dp.NegativeBucket)
			exemplars(p, 11, dp.Exemplars)
			extremum(p, 12, dp.Min)
			extremum(p, 13, dp.Max)
			p.double(14, dp.ZeroThreshold)
		})
	}
}

func (p *pbuf) buckets(field int, b metricdata.ExponentialBucket) {
	p.message(field, func() {
		p.sint32(1, b.Offset)
		p.packedUvarint(2, b.Counts)
	})
}

// extremum writes a histogram's minimum or maximum, if it has one.
func extremum[N int64 | float64](p *pbuf, field int, e metricdata.Extrema[N]) {
	if v, ok := e.Value(); ok {
		p.doubleField(field, float64(v))
	}
}

// summaryPoints writes SummaryDataPoints (data_points 1): start 2, time 3,
// count 4, sum 5, quantile_values 6 (quantile 1, value 2), attributes 7.
func summaryPoints(p *pbuf, dps []metricdata.SummaryDataPoint) {
	for _, dp := range dps {
		p.message(1, func() {
			p.fixed64(2, nanos(dp.StartTime))
			p.fixed64(3, nanos(dp.Time))
			p.fixed64(4, dp.Count)
			p.double(5, dp.Sum)
			for _, q := range dp.QuantileValues {
				p.message(6, func() {
					p.double(1, q.Quantile)
					p.double(2, q.Value)
				})
			}
			p.attributes(7, dp.Attributes.Iter())
		})
	}
}

// exemplars writes Exemplars: time 2, as_double 3, span_id 4, trace_id 5,
// as_int 6, filtered_attributes 7.
func exemplars[N int64 | float64](p *pbuf, field int, es []metricdata.Exemplar[N]) {
	for _, e := range es {
		p.message(field, func() {
			p.fixed64(2, nanos(e.Time))
			p.number(3, 6, e.Value)
			p.bytes(4, e.SpanID)
			p.bytes(5, e.TraceID)
			p.keyValues(7, e.FilteredAttributes)
		})
	}
}
