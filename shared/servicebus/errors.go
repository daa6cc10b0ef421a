package servicebus

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"

	"github.com/privops/privops/shared/privacy"
)

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("publisher is closed")

// translate maps an SDK error to the port's sentinels; it is the one place
// that does. The SDK has already retried by the time it returns, so these are
// failures that outlasted its retries:
//
//   - privacy.ErrUnavailable, wrapped around the SDK's error: an
//     *azservicebus.Error with CodeTimeout or CodeConnectionLost; an AMQP
//     error the SDK passes through untyped whose condition is temporary
//     (com.microsoft:server-busy, i.e. throttling, com.microsoft:timeout,
//     com.microsoft:operation-cancelled, and amqp:resource-limit-exceeded, a
//     queue at its size quota until its consumers catch up); a network
//     time-out; the context's deadline.
//   - anything else as it is: CodeUnauthorizedAccess and CodeNotFound need an
//     operator, CodeClosed means this publisher was closed, and CodeLockLost
//     concerns received messages, which a sender never holds.
func translate(err error) error {
	if err == nil || !transient(err) {
		return err
	}
	return fmt.Errorf("%w: %w", privacy.ErrUnavailable, err)
}

func transient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var sbErr *azservicebus.Error
	if errors.As(err, &sbErr) {
		return sbErr.Code == azservicebus.CodeTimeout || sbErr.Code == azservicebus.CodeConnectionLost
	}
	var amqpErr *amqp.Error
	if errors.As(err, &amqpErr) {
		switch amqpErr.Condition {
		case condServerBusy, condTimeout, condOperationCancelled, amqp.ErrCondResourceLimitExceeded:
			return true
		}
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// Service Bus's own AMQP error conditions (go-amqp names only the standard ones).
const (
	condServerBusy         amqp.ErrCond = "com.microsoft:server-busy"
	condTimeout            amqp.ErrCond = "com.microsoft:timeout"
	condOperationCancelled amqp.ErrCond = "com.microsoft:operation-cancelled"
)
