package sqs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/privops/privops/shared/privacy"
)

var _ privacy.Publisher = (*Publisher)(nil)

// api is what Publisher uses of an *awssqs.Client.
type api interface {
	// SendMessageBatch sends up to ten messages; the service reports each
	// entry's success or failure in the output, so a nil error does not mean
	// every entry was accepted.
	SendMessageBatch(ctx context.Context, in *awssqs.SendMessageBatchInput, optFns ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error)
	// GetQueueUrl returns the URL of a queue of the caller's account by name.
	GetQueueUrl(ctx context.Context, in *awssqs.GetQueueUrlInput, optFns ...func(*awssqs.Options)) (*awssqs.GetQueueUrlOutput, error)
}

var _ api = (*awssqs.Client)(nil)

// Entry retries: a batch's entries the service reports as failed (not as the
// sender's fault) are sent again up to entryRetries times, waiting
// entryRetryBase, then twice that, and so on (each with jitter).
const (
	entryRetries   = 3
	entryRetryBase = 100 * time.Millisecond
)

// Options configures New.
type Options struct {
	// Region is the AWS region of the queues; "" takes it from the
	// environment (AWS_REGION, which Lambda sets).
	Region string
	// Endpoint, if set, replaces the SQS endpoint (LocalStack, tests).
	Endpoint string
	// QueueURLPrefix, if set, makes a queue's URL this prefix plus its name
	// ("https://sqs.eu-west-1.amazonaws.com/123456789012/"), with no
	// GetQueueUrl call; "" resolves each name with GetQueueUrl, once.
	QueueURLPrefix string
	// Credentials, if set, replaces the credentials in the environment
	// (tests; on Lambda the function's role, which Lambda puts there).
	Credentials aws.CredentialsProvider
	// RetryMaxAttempts, if above 0, caps the SDK's attempts per call
	// (its default is 3).
	RetryMaxAttempts int
}

// Publisher is privacy.Publisher over SQS queues. It is safe for concurrent
// use and holds no connections of its own (the SDK's HTTP client pools them),
// so it needs no Close.
type Publisher struct {
	api    api
	prefix string
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error

	mu   sync.Mutex
	urls map[string]string // by queue name, from GetQueueUrl
}

// New returns a Publisher over an SQS client made from o and the Lambda
// environment (clientConfig: the region, the function role's credentials). It
// does not touch the network.
func New(ctx context.Context, o Options) (*Publisher, error) {
	cfg, opts, err := clientConfig(o, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("sqs publisher: %w", err)
	}
	client := awssqs.NewFromConfig(cfg, opts)
	return newPublisher(client, o.QueueURLPrefix, time.Now), nil
}

func newPublisher(a api, prefix string, now func() time.Time) *Publisher {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &Publisher{api: a, prefix: prefix, now: now, sleep: sleep, urls: map[string]string{}}
}

// Publish sends msgs to queue (a name, or a queue URL) in SendMessageBatch
// calls of at most ten messages and 256 KiB, mapping each as the package
// documentation describes: body, attributes, delay, and on a FIFO queue the
// deduplication and group ids. A second message with an ID already in msgs
// is skipped (the first wins).
//
// Nothing is sent unless every message is valid: a non-empty body of the
// characters SQS takes, at most ten valid attributes, at most 256 KiB in all;
// the error names the message, never its body. The batches are sent in order;
// if one fails, the ones before it stay sent and publishing msgs again is the
// remedy. Errors wrap privacy.ErrUnavailable for a transient failure
// (throttling, a 5xx answer, the network, the context's deadline, entries the
// service still failed after the retries); others, such as an invalid
// parameter or an unknown queue, are plain errors naming the queue.
func (p *Publisher) Publish(ctx context.Context, queue string, msgs ...privacy.OutMessage) error {
	if queue == "" {
		return errors.New("publish: the queue name is empty")
	}
	if len(msgs) == 0 {
		return nil
	}
	entries, err := newEntries(msgs, p.now(), isFIFO(queue))
	if err != nil {
		return fmt.Errorf("publish to %s: %w", queue, err)
	}
	url, err := p.queueURL(ctx, queue)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", queue, err)
	}
	batches := split(entries)
	for i, b := range batches {
		if err := p.send(ctx, url, b); err != nil {
			return fmt.Errorf("publish to %s: batch %d of %d (%d messages): %w", queue, i+1, len(batches), len(b), err)
		}
	}
	return nil
}

// queueURL returns the URL of queue: queue itself if it is one, the prefix
// plus the name if there is a prefix, else GetQueueUrl's answer, cached. A
// failed lookup is not cached. Two first Publishes to one queue at once may
// both look it up; both get the same answer.
func (p *Publisher) queueURL(ctx context.Context, queue string) (string, error) {
	if strings.Contains(queue, "://") {
		return queue, nil
	}
	if p.prefix != "" {
		return p.prefix + queue, nil
	}
	p.mu.Lock()
	url, ok := p.urls[queue]
	p.mu.Unlock()
	if ok {
		return url, nil
	}
	out, err := p.api.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(queue)})
	if err != nil {
		return "", fmt.Errorf("resolve queue url: %w", translate(err))
	}
	if out == nil || aws.ToString(out.QueueUrl) == "" {
		return "", errors.New("resolve queue url: GetQueueUrl returned no url")
	}
	url = *out.QueueUrl
	p.mu.Lock()
	p.urls[queue] = url
	p.mu.Unlock()
	return url, nil
}

// send sends one batch, then again the entries the service failed on its
// side, up to entryRetries times with backoff. An entry refused as the
// sender's fault ends it at once with a plain error.
func (p *Publisher) send(ctx context.Context, url string, batch []entry) error {
	pending := batch
	for retry := 0; ; retry++ {
		out, err := p.api.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: sdkEntries(pending)})
		if err != nil {
			return fmt.Errorf("send: %w", translate(err))
		}
		failed, err := results(pending, out)
		if err != nil {
			return err
		}
		if len(failed) == 0 {
			return nil
		}
		if retry == entryRetries {
			return fmt.Errorf("%w: %d of %d messages still failed after %d attempts: %s",
				privacy.ErrUnavailable, len(failed), len(batch), retry+1, describe(failed))
		}
		if err := p.sleep(ctx, backoff(retry)); err != nil {
			return fmt.Errorf("wait to resend %d failed messages (%s): %w", len(failed), describe(failed), translate(err))
		}
		pending = entriesOf(failed)
	}
}

// backoff is the wait before the retry-th resend (from 0): entryRetryBase
// doubled retry times, less a random part of up to half.
func backoff(retry int) time.Duration {
	d := entryRetryBase << retry
	return d - rand.N(d/2)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
