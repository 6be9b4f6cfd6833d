package cloud_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
	"github.com/examina-dev/examina-serverless/shared/s3obj"
	"github.com/examina-dev/examina-serverless/shared/sqsq"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
	"github.com/examina-dev/examina-serverless/statemachine"
)

// fakeClock never waits.
type fakeClock struct{}

func (fakeClock) Now() time.Time                                   { return time.Unix(1_750_000_000, 0) }
func (fakeClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// stack is a provisioned moto stack with the adapters over it.
type stack struct {
	t      *testing.T
	ctx    context.Context
	srv    *mototest.Server
	st     *mototest.Stack
	store  *dynamo.Store
	bucket *s3obj.Bucket
	s3     *s3.Client
	sqs    *sqs.Client
	sfn    *sfn.Client
	db     *dynamodb.Client
}

// newStack starts moto and provisions the table, queue, bucket, Lambda stubs and the
// real state machine (with a long fan-out timeout).
func newStack(t *testing.T) *stack {
	t.Helper()
	srv := mototest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	st, err := srv.Provision(ctx, mototest.ProvisionOptions{Definition: statemachine.Definition(),
		Substitutions: map[string]string{"FanOutTimeoutSeconds": "600"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.AWSConfig(ctx)
	s := &stack{t: t, ctx: ctx, srv: srv, st: st, s3: s3.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg),
		sfn: sfn.NewFromConfig(cfg), db: dynamodb.NewFromConfig(cfg)}
	s.store = dynamo.New(mototest.NewSerialDynamoDB(s.db, new(sync.Mutex)), st.TableName)
	s.bucket = s3obj.New(s.s3, st.BucketName)
	return s
}

func (s *stack) sender() *sqsq.Sender {
	q := sqsq.New(s.sqs, s.st.QueueURL)
	q.Clock = fakeClock{}
	return q
}

func (s *stack) dispatcher() *cloud.Dispatcher {
	return &cloud.Dispatcher{Store: s.store, Cache: s.store, Objects: s.bucket, Links: s.bucket, Queue: s.sender(), Executions: s.sfn,
		Bucket: s.st.BucketName, StateMachineARN: s.st.StateMachineArn, Provider: offline.ProviderName, Model: offline.ModelName}
}

func (s *stack) put(key string, data []byte) {
	s.t.Helper()
	if err := s.bucket.Put(s.ctx, key, data, "application/json"); err != nil {
		s.t.Fatal(err)
	}
}

// s3Event is an ObjectCreated notification for key (encoded as S3 does).
func (s *stack) s3Event(key, etag string) json.RawMessage {
	ev := map[string]any{"Records": []any{map[string]any{
		"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventName": "ObjectCreated:Put",
		"s3": map[string]any{
			"bucket": map[string]any{"name": s.st.BucketName, "arn": "arn:aws:s3:::" + s.st.BucketName},
			"object": map[string]any{"key": encodeKey(key), "size": 10, "eTag": etag},
		},
	}}}
	b, _ := json.Marshal(ev)
	return b
}

// encodeKey encodes a key as S3 notifications do: spaces as '+', others escaped.
func encodeKey(k string) string {
	var out []byte
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == ' ':
			out = append(out, '+')
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '/', c == '.', c == '-', c == '_':
			out = append(out, c)
		default:
			out = append(out, fmt.Sprintf("%%%02X", c)...)
		}
	}
	return string(out)
}

// executions returns the names of the state machine's executions.
func (s *stack) executions() []string {
	s.t.Helper()
	out, err := s.sfn.ListExecutions(s.ctx, &sfn.ListExecutionsInput{StateMachineArn: &s.st.StateMachineArn})
	if err != nil {
		s.t.Fatal(err)
	}
	var names []string
	for _, e := range out.Executions {
		names = append(names, aws.ToString(e.Name))
	}
	return names
}

// receive takes up to max messages off the queue, with their receive counts.
func (s *stack) receive(max int32) []events.SQSMessage {
	s.t.Helper()
	out, err := s.sqs.ReceiveMessage(s.ctx, &sqs.ReceiveMessageInput{QueueUrl: &s.st.QueueURL, MaxNumberOfMessages: max,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil {
		s.t.Fatal(err)
	}
	msgs := make([]events.SQSMessage, 0, len(out.Messages))
	for _, m := range out.Messages {
		msgs = append(msgs, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs"})
	}
	return msgs
}

// receiveWithin polls for up to max messages until some arrive or within has passed
// (delayed and backed-off messages become visible later).
func (s *stack) receiveWithin(max int32, within time.Duration) []events.SQSMessage {
	s.t.Helper()
	end := time.Now().Add(within)
	for {
		if msgs := s.receive(max); len(msgs) > 0 || time.Now().After(end) {
			return msgs
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// settle does what the Lambda poller does after an invocation: delete the successes,
// make the failures visible again at once.
func (s *stack) settle(msgs []events.SQSMessage, resp events.SQSEventResponse) {
	s.t.Helper()
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	for _, m := range msgs {
		var err error
		if failed[m.MessageId] {
			_, err = s.sqs.ChangeMessageVisibility(s.ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &s.st.QueueURL, ReceiptHandle: &m.ReceiptHandle, VisibilityTimeout: 0})
		} else {
			_, err = s.sqs.DeleteMessage(s.ctx, &sqs.DeleteMessageInput{QueueUrl: &s.st.QueueURL, ReceiptHandle: &m.ReceiptHandle})
		}
		if err != nil {
			s.t.Fatal(err)
		}
	}
}

// countingSignaler records SendTaskSuccess calls; err, when set, fails them.
type countingSignaler struct {
	mu     sync.Mutex
	calls  []sfn.SendTaskSuccessInput
	err    error
	failN  int // fail this many calls first
	onCall func(*sfn.SendTaskSuccessInput) error
}

func (c *countingSignaler) SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, *in)
	if c.failN > 0 {
		c.failN--
		return nil, c.err
	}
	if c.onCall != nil {
		if err := c.onCall(in); err != nil {
			return nil, err
		}
	}
	return &sfn.SendTaskSuccessOutput{}, nil
}

func (c *countingSignaler) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

// flakyProvider answers with the offline heuristic, except for the exercise ids in
// fail, which get a transient 503 every time.
type flakyProvider struct {
	*offline.Provider
	fail  map[string]bool
	mu    sync.Mutex
	calls map[string]int
}

func (p *flakyProvider) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	p.mu.Lock()
	if p.calls == nil {
		p.calls = map[string]int{}
	}
	p.calls[req.Exercise.ID]++
	p.mu.Unlock()
	if p.fail[req.Exercise.ID] {
		return examina.Response{}, &examina.ProviderError{Provider: p.Name(), Kind: examina.KindTransient, HTTPStatus: 503, Reason: "server_error", Message: "injected"}
	}
	return p.Provider.Complete(ctx, req)
}

// fanOutToken waits for the execution's fan-out task and returns its task token.
func (s *stack) fanOutToken(exec string) string {
	s.t.Helper()
	token, err := mototest.FanOutToken(s.ctx, s.sfn, exec)
	if err != nil {
		s.t.Fatal(err)
	}
	return token
}

// finish waits for the execution to end and returns its status.
func (s *stack) finish(exec string) sfntypes.ExecutionStatus {
	s.t.Helper()
	st, err := mototest.WaitExecution(s.ctx, s.sfn, exec)
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}
