package sqs

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// sentEntry is what a test checks of a sent batch entry.
type sentEntry struct {
	Entry      string // the batch entry id
	Body       string
	Delay      int32             // DelaySeconds
	Attributes map[string]string // String attributes; another type shows as "<type>:<value>"
	DedupeID   string
	GroupID    string
}

func toSent(e types.SendMessageBatchRequestEntry) sentEntry {
	s := sentEntry{Entry: aws.ToString(e.Id), Body: aws.ToString(e.MessageBody), Delay: e.DelaySeconds,
		DedupeID: aws.ToString(e.MessageDeduplicationId), GroupID: aws.ToString(e.MessageGroupId)}
	for name, a := range e.MessageAttributes {
		if s.Attributes == nil {
			s.Attributes = map[string]string{}
		}
		v := aws.ToString(a.StringValue)
		if t := aws.ToString(a.DataType); t != stringType {
			v = t + ":" + v
		}
		s.Attributes[name] = v
	}
	return s
}

// fakeAPI is a behavioural fake of the SQS client: it accepts every entry and
// records every call; its function fields inject faults.
type fakeAPI struct {
	sendErr func(call int) error                                     // the call-th SendMessageBatch (from 1) fails as a whole
	fail    func(call int, e sentEntry) *types.BatchResultErrorEntry // an entry fails (Id is filled in)
	omit    func(call int, e sentEntry) bool                         // an entry is in neither list of the answer
	urlErr  func(queue string) error                                 // GetQueueUrl fails

	mu      sync.Mutex
	calls   [][]sentEntry // the entries of each SendMessageBatch call
	urls    []string      // the QueueUrl of each call
	lookups map[string]int
}

func (f *fakeAPI) SendMessageBatch(_ context.Context, in *awssqs.SendMessageBatchInput, _ ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var entries []sentEntry
	for _, e := range in.Entries {
		entries = append(entries, toSent(e))
	}
	f.calls = append(f.calls, entries)
	f.urls = append(f.urls, aws.ToString(in.QueueUrl))
	call := len(f.calls)
	if f.sendErr != nil {
		if err := f.sendErr(call); err != nil {
			return nil, err
		}
	}
	out := &awssqs.SendMessageBatchOutput{}
	for _, e := range entries {
		if f.omit != nil && f.omit(call, e) {
			continue
		}
		if f.fail != nil {
			if fe := f.fail(call, e); fe != nil {
				fe.Id = aws.String(e.Entry)
				out.Failed = append(out.Failed, *fe)
				continue
			}
		}
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{
			Id: aws.String(e.Entry), MessageId: aws.String("sqs-" + e.Entry)})
	}
	return out, nil
}

func (f *fakeAPI) GetQueueUrl(_ context.Context, in *awssqs.GetQueueUrlInput, _ ...func(*awssqs.Options)) (*awssqs.GetQueueUrlOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	queue := aws.ToString(in.QueueName)
	if f.lookups == nil {
		f.lookups = map[string]int{}
	}
	f.lookups[queue]++
	if f.urlErr != nil {
		if err := f.urlErr(queue); err != nil {
			return nil, err
		}
	}
	return &awssqs.GetQueueUrlOutput{QueueUrl: aws.String(testURLPrefix + queue)}, nil
}

// testURLPrefix is the fake's queue URLs without the name.
const testURLPrefix = "https://sqs.eu-west-1.amazonaws.com/123456789012/"

func (f *fakeAPI) sent() [][]sentEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeAPI) queueURLs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.urls
}

func (f *fakeAPI) lookupCounts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for q, n := range f.lookups {
		out[q] = n
	}
	return out
}
