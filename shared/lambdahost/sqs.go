package lambdahost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/trigger"
)

// serveSQS runs the queue function of each record, one after the other, and
// reports the records to redeliver as batch item failures. Only a batch that
// does not decode is an invocation error (SQS then redelivers all of it).
//
// On a FIFO queue, order within a message group must hold: after the first
// failure, that record and every later one are reported without being run, as
// the Lambda documentation requires. When the invocation's deadline has
// passed, the records not yet run are reported too, rather than started and
// cut off mid-way.
func (h *Host) serveSQS(ctx context.Context, raw json.RawMessage) (events.SQSEventResponse, error) {
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		err = fmt.Errorf("decode sqs event: %w", jsonError(err))
		h.logger.Error("decode sqs event", "error", err)
		return events.SQSEventResponse{}, err
	}
	res := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	fail := func(rec events.SQSMessage) {
		res.BatchItemFailures = append(res.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
	}
	skipped, fifoStop := 0, false
	for _, rec := range ev.Records {
		if fifoStop || ctx.Err() != nil {
			fail(rec)
			skipped++
			continue
		}
		if !h.handleRecord(ctx, rec) {
			fail(rec)
			fifoStop = strings.HasSuffix(rec.EventSourceARN, ".fifo")
		}
	}
	switch {
	case fifoStop && skipped > 0:
		h.logger.Warn("fifo batch stopped at its first failure; later records left for redelivery", "skipped", skipped)
	case skipped > 0:
		h.logger.Warn("invocation deadline passed; remaining records left for redelivery", "skipped", skipped, "error", ctx.Err())
	}
	if n := len(res.BatchItemFailures); n > 0 {
		h.logger.Warn("sqs batch partly failed", "records", len(ev.Records), "failed", n)
	} else {
		h.logger.Debug("sqs batch completed", "records", len(ev.Records))
	}
	return res, nil
}

// handleRecord runs the queue function for one record; false means the record
// is to be redelivered.
func (h *Host) handleRecord(ctx context.Context, rec events.SQSMessage) bool {
	queue := queueName(rec.EventSourceARN)
	e, ok := h.queues[queue]
	if !ok {
		h.logger.Error("no queue function reads this queue; message will be redelivered",
			"queue", queue, "message_id", rec.MessageId)
		return false
	}
	log := h.logger.With("function", e.spec.Name, "invocation_id", rec.MessageId,
		"trigger", string(funcjson.KindQueue), "queue", queue, "message_id", rec.MessageId)
	m, err := decodeMessage(rec, queue)
	if err != nil {
		// Our bug or a foreign sender's: keep the message for the dead-letter queue.
		log.Error("decode sqs record; message will be redelivered", "error", err)
		return false
	}
	log = log.With("delivery_count", m.DeliveryCount)
	ctx = trigger.WithInvocation(ctx, trigger.Invocation{ID: rec.MessageId, Function: e.spec.Name})
	err = safeCall(func() error { return e.fn.Queue(ctx, m) })
	var rej *trigger.Rejection
	if errors.As(err, &rej) {
		// A handler cannot dead-letter one SQS message: record why and acknowledge it.
		log.Warn("message rejected", "reason", rej.Reason)
		return true
	}
	if err != nil {
		logError(log, "queue function failed; message will be redelivered", err)
		return false
	}
	log.Debug("message completed")
	return true
}

// queueName is the last segment of a queue ARN,
// arn:aws:sqs:<region>:<account>:<queue name>.
func queueName(arn string) string {
	return arn[strings.LastIndexByte(arn, ':')+1:]
}

// decodeMessage builds the trigger.Message. An attribute that is absent keeps
// its zero value (DeliveryCount 1); one that is present but does not parse
// makes the record malformed.
func decodeMessage(rec events.SQSMessage, queue string) (trigger.Message, error) {
	m := trigger.Message{ID: rec.MessageId, Body: []byte(rec.Body), DeliveryCount: 1, Queue: queue}
	if s, ok := rec.Attributes["ApproximateReceiveCount"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return trigger.Message{}, fmt.Errorf("%w: ApproximateReceiveCount %q", errBadEvent, s)
		}
		m.DeliveryCount = n
	}
	if s, ok := rec.Attributes["SentTimestamp"]; ok {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms < 0 {
			return trigger.Message{}, fmt.Errorf("%w: SentTimestamp %q", errBadEvent, s)
		}
		m.EnqueuedAt = time.UnixMilli(ms).UTC()
	}
	for name, a := range rec.MessageAttributes {
		if a.StringValue == nil || !stringTyped(a.DataType) {
			continue // Binary attributes have no string form
		}
		if m.Properties == nil {
			m.Properties = map[string]string{}
		}
		m.Properties[name] = *a.StringValue
		if name == "ContentType" {
			m.ContentType = *a.StringValue
		}
	}
	return m, nil
}

// stringTyped reports whether an SQS attribute data type carries a string
// value: String and Number, with or without a custom suffix ("String.json").
func stringTyped(dataType string) bool {
	base, _, _ := strings.Cut(dataType, ".")
	return base == "String" || base == "Number"
}
