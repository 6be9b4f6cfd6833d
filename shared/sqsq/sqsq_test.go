package sqsq_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/sqsq"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
)

type fakeClock struct {
	mu    sync.Mutex
	slept []time.Duration
}

func (c *fakeClock) Now() time.Time { return time.Unix(0, 0) }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	return ctx.Err()
}

// partial sends all but the entries whose body is in failFirst on their first call,
// and reports those as failed (server fault), like a partially failed batch.
type partial struct {
	api       sqsq.API
	mu        sync.Mutex
	failFirst map[string]bool
	sender    bool // report failures as the sender's fault
	calls     [][]string
}

func (p *partial) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	p.mu.Lock()
	var ids []string
	var keep []types.SendMessageBatchRequestEntry
	var failed []types.BatchResultErrorEntry
	for _, e := range in.Entries {
		ids = append(ids, aws.ToString(e.MessageBody))
		if p.failFirst[aws.ToString(e.MessageBody)] {
			delete(p.failFirst, aws.ToString(e.MessageBody))
			failed = append(failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), SenderFault: p.sender, Message: aws.String("injected")})
			continue
		}
		keep = append(keep, e)
	}
	p.calls = append(p.calls, ids)
	p.mu.Unlock()
	out := &sqs.SendMessageBatchOutput{}
	if len(keep) > 0 {
		o, err := p.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: in.QueueUrl, Entries: keep}, opts...)
		if err != nil {
			return nil, err
		}
		out = o
	}
	out.Failed = append(out.Failed, failed...)
	return out, nil
}

func drain(t *testing.T, c *sqs.Client, url string) []string {
	t.Helper()
	var bodies []string
	for empty := 0; empty < 2; {
		out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			if _, err := c.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	slices.Sort(bodies)
	return bodies
}

func bodies(n int, size int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%03d:", i) + strings.Repeat("x", size)
	}
	return out
}

func TestSendAll(t *testing.T) {
	srv := mototest.Start(t)
	client := sqs.NewFromConfig(srv.AWSConfig(t.Context()))
	tests := []struct {
		name       string
		bodies     []string
		maxBytes   int
		failFirst  []int
		wantCalls  []int // entries per call
		wantSleeps int
	}{
		{"one", bodies(1, 10), 0, nil, []int{1}, 0},
		{"25 in three calls", bodies(25, 10), 0, nil, []int{10, 10, 5}, 0},
		{"failed entries retried", bodies(23, 10), 0, []int{0, 9, 10, 22}, []int{10, 2, 10, 1, 3, 1}, 3},
		{"split by size", bodies(7, 1000), 3100, nil, []int{3, 3, 1}, 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := srv.CreateQueues(t.Context(), fmt.Sprintf("q%d", i))
			if err != nil {
				t.Fatal(err)
			}
			p := &partial{api: client, failFirst: map[string]bool{}}
			for _, f := range tc.failFirst {
				p.failFirst[tc.bodies[f]] = true
			}
			clock := &fakeClock{}
			s := sqsq.New(p, q.URL)
			s.Clock = clock
			if tc.maxBytes > 0 {
				s.MaxBatchBytes = tc.maxBytes
			}
			if err := s.SendAll(t.Context(), tc.bodies); err != nil {
				t.Fatal(err)
			}
			var sizes []int
			for _, c := range p.calls {
				sizes = append(sizes, len(c))
			}
			if !slices.Equal(sizes, tc.wantCalls) {
				t.Errorf("entries per call = %v, want %v", sizes, tc.wantCalls)
			}
			if len(clock.slept) != tc.wantSleeps {
				t.Errorf("sleeps = %v, want %d", clock.slept, tc.wantSleeps)
			}
			if got := drain(t, client, q.URL); !slices.Equal(got, tc.bodies) {
				t.Errorf("queue holds %d messages, want exactly the %d sent", len(got), len(tc.bodies))
			}
		})
	}
}

func TestSendAllFailures(t *testing.T) {
	srv := mototest.Start(t)
	client := sqs.NewFromConfig(srv.AWSConfig(t.Context()))
	q, err := srv.CreateQueues(t.Context(), "qf")
	if err != nil {
		t.Fatal(err)
	}
	bs := bodies(3, 10)

	// The sender's fault: not retried, invalid.
	p := &partial{api: client, failFirst: map[string]bool{bs[1]: true}, sender: true}
	s := sqsq.New(p, q.URL)
	s.Clock = &fakeClock{}
	if err := s.SendAll(t.Context(), bs); examina.KindOf(err) != examina.KindInvalid || len(p.calls) != 1 {
		t.Errorf("sender fault: err %v (calls %d), want invalid after 1 call", err, len(p.calls))
	}

	// Always failing: transient after MaxAttempts.
	always := &partial{api: client, failFirst: map[string]bool{}}
	s = sqsq.New(stubborn{always}, q.URL)
	s.Clock = &fakeClock{}
	s.MaxAttempts = 4
	if err := s.SendAll(t.Context(), bs); examina.KindOf(err) != examina.KindTransient {
		t.Errorf("always failing: %v, want transient", err)
	}

	// A body over the limit: nothing sent.
	p = &partial{api: client, failFirst: map[string]bool{}}
	s = sqsq.New(p, q.URL)
	s.MaxBatchBytes = 100
	if err := s.SendAll(t.Context(), append(bs, strings.Repeat("y", 101))); examina.KindOf(err) != examina.KindInvalid || len(p.calls) != 0 {
		t.Errorf("oversized body: %v (calls %d), want invalid and no call", err, len(p.calls))
	}
	drain(t, client, q.URL)

	// A missing queue is not retried.
	s = sqsq.New(client, q.URL+"-missing")
	s.Clock = &fakeClock{}
	if err := s.SendAll(t.Context(), bs); err == nil || examina.KindOf(err) == examina.KindTransient {
		t.Errorf("missing queue: %v, want a non-transient error", err)
	}
}

// stubborn fails every entry, every time.
type stubborn struct{ p *partial }

func (s stubborn) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	s.p.mu.Lock()
	for _, e := range in.Entries {
		s.p.failFirst[aws.ToString(e.MessageBody)] = true
	}
	s.p.mu.Unlock()
	return s.p.SendMessageBatch(ctx, in, opts...)
}
