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
	"github.com/examina-dev/examina-serverless/shared/mototest"
	"github.com/examina-dev/examina-serverless/shared/s3obj"
	"github.com/examina-dev/examina-serverless/shared/sqsq"
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
	s.store = dynamo.New(&serializedDB{API: s.db}, st.TableName)
	s.bucket = s3obj.New(s.s3, st.BucketName)
	return s
}

func (s *stack) sender() *sqsq.Sender {
	q := sqsq.New(s.sqs, s.st.QueueURL)
	q.Clock = fakeClock{}
	return q
}

func (s *stack) dispatcher() *cloud.Dispatcher {
	return &cloud.Dispatcher{Store: s.store, Cache: s.store, Objects: s.bucket, Queue: s.sender(), Executions: s.sfn,
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
	for {
		hist, err := s.sfn.GetExecutionHistory(s.ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: &exec})
		if err != nil {
			s.t.Fatal(err)
		}
		submitted := false
		var token string
		for _, e := range hist.Events {
			switch e.Type {
			case sfntypes.HistoryEventTypeTaskSubmitted:
				submitted = true
			case sfntypes.HistoryEventTypeTaskScheduled:
				var p struct {
					Payload struct {
						TaskToken string `json:"task_token"`
					}
				}
				if err := json.Unmarshal([]byte(aws.ToString(e.TaskScheduledEventDetails.Parameters)), &p); err != nil {
					s.t.Fatal(err)
				}
				token = p.Payload.TaskToken
			}
		}
		if submitted && token != "" {
			return token
		}
		select {
		case <-s.ctx.Done():
			s.t.Fatalf("no fan-out task in %s", exec)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// finish waits for the execution to end and returns its status.
func (s *stack) finish(exec string) sfntypes.ExecutionStatus {
	s.t.Helper()
	for {
		d, err := s.sfn.DescribeExecution(s.ctx, &sfn.DescribeExecutionInput{ExecutionArn: &exec})
		if err != nil {
			s.t.Fatal(err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			return d.Status
		}
		select {
		case <-s.ctx.Done():
			s.t.Fatalf("execution %s still running", exec)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// serializedDB makes one request to moto at a time: moto does not serialize concurrent
// requests on one item (two transactions can both pass attribute_not_exists, two ADDs
// can lose an update), which DynamoDB's serializable transactions never allow; and a
// read of a missing partition inserts it into moto's table (a defaultdict), which
// makes a concurrent transaction's copy of the table fail with a 500. The store's
// logic under concurrent callers is what the tests check, not moto's locking.
type serializedDB struct {
	mu sync.Mutex
	dynamo.API
}

func (s *serializedDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.API.GetItem(ctx, in, o...)
}

func (s *serializedDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.API.BatchGetItem(ctx, in, o...)
}

func (s *serializedDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.API.Query(ctx, in, o...)
}

func (s *serializedDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.API.PutItem(ctx, in, o...)
}

func (s *serializedDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.API.UpdateItem(ctx, in, o...)
}

func (s *serializedDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.API.TransactWriteItems(ctx, in, o...)
}

func (s *serializedDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.API.BatchWriteItem(ctx, in, o...)
}
