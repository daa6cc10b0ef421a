package sqs

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/privops/privops/shared/privacy"
)

// translate maps an SDK error to the port's sentinels; it is the one place
// that does. The SDK has already retried by the time it returns, so these are
// failures that outlasted its retries:
//
//   - privacy.ErrUnavailable, wrapped around the SDK's error: a throttling
//     code (RequestThrottled, KmsThrottled, ThrottlingException and the
//     others the SDK's retryer knows), an error the service marks as its own
//     fault, an HTTP 5xx or 429 answer, a request that could not be sent or
//     whose answer was lost, a network time-out, the context's deadline;
//   - anything else as it is: an invalid parameter, QueueDoesNotExist,
//     AccessDenied, KMS key problems and missing credentials need an operator,
//     and context.Canceled means the caller gave up.
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
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorFault() == smithy.FaultServer || retryableCode(apiErr.ErrorCode())) {
		return true
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) {
		if s := status.HTTPStatusCode(); s >= 500 || s == 429 {
			return true
		}
	}
	var sendErr *smithyhttp.RequestSendError
	if errors.As(err, &sendErr) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// retryableCode reports whether an SQS error code, of a call or of one batch
// entry, means "slow down" or "try again" (throttling, the service's own
// failure) rather than "wrong". SQS's JSON answers carry the codes of its
// older query protocol, which the SDK reports: "KMS.ThrottlingException", not
// "KmsThrottled".
func retryableCode(code string) bool {
	if _, ok := retry.DefaultThrottleErrorCodes[code]; ok {
		return true
	}
	switch code {
	case "KmsThrottled", "KMS.ThrottlingException", "ServiceUnavailable", "InternalError", "InternalFailure":
		return true
	}
	return false
}
