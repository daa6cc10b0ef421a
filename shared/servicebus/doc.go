// Package servicebus is the production sending side of the queue port: a
// privacy.Publisher over Azure Service Bus queues (azservicebus). Every
// function that hands work on (fan-out, fan-in, sweep pages, notification
// batches, retries) publishes through it; its only side effect is messages on
// the named queue. There is no receiving side here: on Azure the Functions host
// receives with its serviceBusTrigger binding and calls the handler, and the
// standalone host receives from the SQLite queue.
//
// # Idempotence: duplicate detection
//
// Every message's MessageID is the OutMessage.ID, and the queues MUST be
// created with duplicate detection enabled (the infra does): the broker then
// accepts a message whose id it has seen within the queue's duplicate
// detection window and drops it, so publishing again after a crash or an
// unanswered send is a no-op. The window (20 s to 7 days, a queue property)
// starts when the broker accepts the message, not when a scheduled message
// becomes visible, and should cover the longest time in which the same id can
// be published again: the hourly watch re-publishes outbox events a crash left
// behind, so the window should be at least a few hours. A republish after the
// window is delivered again, which the idempotent handlers tolerate
// (at-least-once in, exactly-once effect); duplicate detection saves work, it
// does not carry correctness. The queues must not require sessions, and should
// not be partitioned: with duplicate detection on, a partitioned entity uses
// the message id as the partition key, which does not mix with batches of many
// ids.
//
// # Scheduled delivery, and why retries use it
//
// A message whose NotBefore lies in the future carries it as its
// ScheduledEnqueueTime: the broker stores it at once and makes it visible at
// that time. Service Bus has no "abandon with a delay": an abandoned message
// is visible again at once, and after the queue's maximum delivery count it is
// dead-lettered. So a handler that must retry later with backoff (a connector
// answering 5xx, a throttled service) completes its message and publishes a
// follow-up with NotBefore = now + backoff. The follow-up needs an id of its
// own (for example the original id plus the attempt number): duplicate
// detection would drop a copy that reuses the original id within the window.
//
// Scheduled messages go through the same batched send as immediate ones, not
// through Sender.ScheduleMessages: duplicate detection applies to both alike
// (the broker checks the id when it accepts the message), but a batch measures
// each message against the link's size limit before anything is sent, while
// the schedule request is sent unmeasured and fails as a whole; and we never
// cancel a scheduled message, which is all its sequence numbers are for. The
// SDK copies the first message's annotations, the scheduled time among them,
// onto a batch's envelope, so a batch only ever holds messages of one
// delivery time.
//
// # Errors
//
// Publish returns privacy.ErrUnavailable (wrapped) for a transient failure
// (service time-out, lost connection, throttling, a full queue, the context's
// deadline), any other failure wrapped as it is, and a permanent error naming
// the message id and size for a message too large to send. Error texts carry
// queue names, message ids and sizes, never a message body.
package servicebus
