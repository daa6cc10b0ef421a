// Package sqs is the sending side of the queue port on AWS: a
// privacy.Publisher over Amazon SQS queues (aws-sdk-go-v2). Every function
// that hands work on publishes through it when the suite runs as a Lambda
// function; its only side effects are messages on the named queue and, once
// per queue name, a GetQueueUrl call. The receiving side is the Lambda SQS
// event source, which shared/lambdahost turns into queue function calls.
//
// # Queues and their URLs
//
// The suite names queues plainly ("privops-tasks"). Publish turns a name into
// its URL with Options.QueueURLPrefix when set (no call at all), else with
// GetQueueUrl, once per name and cached for the Publisher's life. A name ending
// in ".fifo" is a FIFO queue. A full URL may be passed instead of a name.
//
// # Idempotence: standard queues have none, FIFO queues five minutes
//
// A standard queue has no duplicate detection: publishing the same
// OutMessage.ID twice delivers it twice, and SQS itself delivers at least once.
// That is safe only because every handler is idempotent by design (a duplicate
// delivery is a no-op: a task message claims its task with an ETag write, and
// a second claim loses); the port's "Publish is idempotent per message ID"
// holds there for the effect, not for the delivery.
//
// On a FIFO queue every message carries MessageDeduplicationId = its ID and
// MessageGroupId = its ID too: one group per message, because the suite needs
// no ordering and a shared group would make one slow message hold up the
// rest. An ID longer than 128 characters or with characters SQS does not take
// there (anything but printable ASCII) is replaced by "sha256:" and its hex
// SHA-256. SQS drops a duplicate only within its five-minute deduplication
// interval (Service Bus's window is configurable up to seven days); the
// idempotent handlers cover the rest. On both kinds of queue a second message
// in one Publish call with an ID already in the call is skipped (the first
// wins).
//
// # Scheduled delivery: at most 15 minutes, then "not yet"
//
// SQS delays a message by at most 900 seconds (DelaySeconds), and not per
// message at all on a FIFO queue. So:
//
//   - on a standard queue, a NotBefore up to 900 s ahead becomes DelaySeconds,
//     rounded up to the second (never early);
//   - a NotBefore further ahead is sent with the 900 s maximum and the message
//     attribute "privops-not-before" (RFC 3339, UTC): the message arrives
//     early;
//   - on a FIFO queue, any future NotBefore only sets "privops-not-before":
//     the message arrives after the queue's own delay, usually at once.
//
// An early message is harmless to the one publisher of scheduled messages,
// the task outbox (shared/dsr): the task handler checks the task's own
// NotBefore in the store, not the message, and acknowledges an early message
// without doing anything ("not yet"). The task stays pending with its wake-up
// at NotBefore plus the task lease, and the deadline watch (Redrive, on its
// timer) re-publishes it, undelayed and under a new id, on its first run once
// the wake-up is older than the outbox lease. The cost is lateness, not loss:
// a task scheduled more than 15 minutes ahead (an erasure's grace period, a
// long Retry-After), or any scheduled task on a FIFO queue (every retry's
// backoff), runs after NotBefore + TASK_LEASE + OUTBOX_LEASE (7 minutes by
// default) at the next watch run: up to about 67 minutes late with the
// default hourly schedule. That is why the tasks queue should be a standard
// queue. Nothing in the suite reads "privops-not-before" yet: it reaches
// handlers among trigger.Message.Properties, for logs and for a future
// consumer that re-delays; a queue whose handler does not re-check a schedule
// of its own must not be sent messages more than 15 minutes ahead.
//
// # Message mapping and limits
//
// The body is the MessageBody, which SQS takes only as text: it must be valid
// UTF-8 of the characters XML allows (tab, line feed, carriage return,
// U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF) and not empty. Our bodies
// are JSON, so this only refuses a bug; the error names the message and the
// byte offset, never the body. Properties become String message attributes,
// plus "ContentType" when OutMessage.ContentType is set (it wins over a
// property of that name, and "privops-not-before" wins over both), which is
// where shared/lambdahost reads them back. A property with an empty value is
// left out (SQS refuses empty attribute values; a reader sees it absent, which
// reads as ""). SQS allows ten attributes a message.
//
// Publish sends SendMessageBatch calls of at most ten messages and 256 KiB
// (bodies plus attribute names, types and values). SQS has taken up to 1 MiB
// since 2025, but a queue's MaximumMessageSize may still be 256 KiB, so a
// message larger than that is refused before anything is sent.
//
// # Errors
//
// Nothing is sent unless every message is valid. The batches are then sent in
// order; a batch whose call fails stops the rest, and the batches before it
// stay sent (publishing again is the remedy). The SDK retries a failed call
// itself; entries a successful call reports as failed by the service are
// retried here, a few times with jittered backoff, and if some still fail
// Publish returns privacy.ErrUnavailable (wrapped) naming them. Throttling,
// 5xx answers, network failures and the context's deadline are
// privacy.ErrUnavailable too; anything else (an invalid parameter, a queue that
// does not exist, access denied, an entry refused as the sender's fault) is a
// plain error. Error texts carry queue names, message ids, attribute names,
// sizes and SQS's error codes, never a body or an attribute value.
package sqs
