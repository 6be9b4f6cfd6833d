package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/simulated"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/retry/retrytest"
	"github.com/examina-dev/examina-serverless/shared/s3obj"
	"github.com/examina-dev/examina-serverless/shared/sqsq"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
)

// faultRule decides, from an operation's call number (1-based), what to inject.
type faultRule struct {
	service, operation string
	// before returns an error to answer the call with, without sending it.
	before func(n int) error
	// after, when it returns an error, sends the call and then answers with the error:
	// the write happened but its response was lost.
	after func(n int) error
	// perAttempt: before applies to every attempt inside the SDK's retry loop (the SDK
	// retries throttling by itself), not once per operation call.
	perAttempt bool
	// partial edits the input before sending and the output after: some batch entries
	// fail (UnprocessedItems, SendMessageBatch's Failed).
	partial func(n int, in, out any, next func(any) (any, error)) (any, error)
}

// injector is an SDK middleware (added through aws.Config.APIOptions) that injects
// faults into chosen operations, counting every call and every fault by kind. It sits
// in the Initialize step, before the SDK's own retries, so every fault reaches the
// product's code.
type injector struct {
	rules  []faultRule
	mu     sync.Mutex
	calls  map[string]int
	faults map[string]int
}

func newInjector(rules ...faultRule) *injector {
	return &injector{rules: rules, calls: map[string]int{}, faults: map[string]int{}}
}

func (in *injector) count(op, fault string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if fault != "" {
		in.faults[fault]++
		return 0
	}
	in.calls[op]++
	return in.calls[op]
}

func (in *injector) apply(stack *middleware.Stack) error {
	err := stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("faultInjectorAttempts",
		func(ctx context.Context, input middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			svc, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
			for _, r := range in.rules {
				if r.perAttempt && r.service == svc && r.operation == op {
					n := in.count(svc+"."+op+" attempt", "")
					if err := r.before(n); err != nil {
						in.count("", fmt.Sprintf("%s.%s attempt %T", svc, op, err))
						return middleware.FinalizeOutput{}, middleware.Metadata{}, err
					}
				}
			}
			return next.HandleFinalize(ctx, input)
		}), middleware.After)
	if err != nil {
		return err
	}
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("faultInjector",
		func(ctx context.Context, input middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			svc, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
			for _, r := range in.rules {
				if r.perAttempt || r.service != svc || r.operation != op {
					continue
				}
				n := in.count(svc+"."+op, "")
				if r.before != nil {
					if err := r.before(n); err != nil {
						in.count("", fmt.Sprintf("%s.%s %T", svc, op, err))
						return middleware.InitializeOutput{}, middleware.Metadata{}, err
					}
				}
				if r.partial != nil {
					var md middleware.Metadata
					res, err := r.partial(n, input.Parameters, nil, func(p any) (any, error) {
						input.Parameters = p
						out, m, err := next.HandleInitialize(ctx, input)
						md = m
						return out.Result, err
					})
					return middleware.InitializeOutput{Result: res}, md, err
				}
				out, md, err := next.HandleInitialize(ctx, input)
				if err == nil && r.after != nil {
					if lost := r.after(n); lost != nil {
						in.count("", fmt.Sprintf("%s.%s lost response", svc, op))
						return out, md, lost
					}
				}
				return out, md, err
			}
			return next.HandleInitialize(ctx, input)
		}), middleware.After)
}

func throttled() error {
	return &ddbtypes.ProvisionedThroughputExceededException{Message: aws.String("injected throttle")}
}

func conflicted() error {
	return &ddbtypes.TransactionCanceledException{Message: aws.String("injected conflict"),
		CancellationReasons: []ddbtypes.CancellationReason{{Code: aws.String("TransactionConflict")}, {Code: aws.String("None")}}}
}

func lostResponse() error {
	return &smithy.GenericAPIError{Code: "InternalServerError", Message: "injected: the response was lost"}
}

// unprocessedHalf sends every other item of a BatchWriteItem and returns the rest as
// UnprocessedItems, as DynamoDB does under load.
func unprocessedHalf(count func(string)) func(int, any, any, func(any) (any, error)) (any, error) {
	return func(_ int, in, _ any, next func(any) (any, error)) (any, error) {
		req := in.(*dynamodb.BatchWriteItemInput)
		sent := map[string][]ddbtypes.WriteRequest{}
		held := map[string][]ddbtypes.WriteRequest{}
		for table, ws := range req.RequestItems {
			for i, w := range ws {
				if i%2 == 1 {
					held[table] = append(held[table], w)
					count("DynamoDB.BatchWriteItem unprocessed item")
				} else {
					sent[table] = append(sent[table], w)
				}
			}
		}
		cp := *req
		cp.RequestItems = sent
		out, err := next(&cp)
		if err != nil || len(held) == 0 {
			return out, err
		}
		res := out.(*dynamodb.BatchWriteItemOutput)
		if res.UnprocessedItems == nil {
			res.UnprocessedItems = map[string][]ddbtypes.WriteRequest{}
		}
		for table, ws := range held {
			res.UnprocessedItems[table] = append(res.UnprocessedItems[table], ws...)
		}
		return res, nil
	}
}

// partialSend fails the second and fifth entries of every SendMessageBatch (not sent,
// reported in Failed as a service fault), as SQS does under load.
func partialSend(count func(string)) func(int, any, any, func(any) (any, error)) (any, error) {
	return func(_ int, in, _ any, next func(any) (any, error)) (any, error) {
		req := in.(*sqs.SendMessageBatchInput)
		var sent []sqstypes.SendMessageBatchRequestEntry
		var failed []sqstypes.BatchResultErrorEntry
		for i, e := range req.Entries {
			if i == 1 || i == 4 {
				failed = append(failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("ServiceUnavailable"),
					Message: aws.String("injected"), SenderFault: false})
				count("SQS.SendMessageBatch failed entry")
				continue
			}
			sent = append(sent, e)
		}
		cp := *req
		cp.Entries = sent
		if len(sent) == 0 {
			return &sqs.SendMessageBatchOutput{Failed: failed}, nil
		}
		out, err := next(&cp)
		if err != nil {
			return out, err
		}
		res := out.(*sqs.SendMessageBatchOutput)
		res.Failed = append(res.Failed, failed...)
		return res, nil
	}
}

// recordingSignaler records SendTaskSuccess calls.
type recordingSignaler struct {
	mu    sync.Mutex
	calls []sfn.SendTaskSuccessInput
}

func (s *recordingSignaler) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, *in)
	return &sfn.SendTaskSuccessOutput{}, nil
}

// cloudEnv is a moto stack with faulty clients for the product and clean ones for the
// test's own reads.
type cloudEnv struct {
	ctx       context.Context
	st        *mototest.Stack
	inj       *injector
	faultyCfg aws.Config
	db        *dynamodb.Client // clean
	sqs       *sqs.Client      // clean
	s3        *s3.Client       // clean
	store     *dynamo.Store    // over the faulty client
	clock     *retrytest.Clock
}

func newCloudEnv(t *testing.T, inj *injector) *cloudEnv {
	t.Helper()
	srv := mototest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	st, err := srv.Provision(ctx, mototest.ProvisionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clean := srv.AWSConfig(ctx)
	faulty := srv.AWSConfig(ctx)
	// The SDK's retries stay on (as in the Lambdas) but never sleep.
	faulty.Retryer = func() aws.Retryer {
		return awsretry.NewStandard(func(o *awsretry.StandardOptions) {
			o.Backoff = awsretry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			o.RateLimiter = noRateLimit{}
		})
	}
	faulty.APIOptions = append(faulty.APIOptions, inj.apply)
	e := &cloudEnv{ctx: ctx, st: st, inj: inj, faultyCfg: faulty, db: dynamodb.NewFromConfig(clean),
		sqs: sqs.NewFromConfig(clean), s3: s3.NewFromConfig(clean),
		clock: retrytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	e.store = dynamo.New(dynamodb.NewFromConfig(faulty), st.TableName)
	e.store.Clock = e.clock
	return e
}

// noRateLimit lets the SDK retry as often as its attempts allow.
type noRateLimit struct{}

func (noRateLimit) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}
func (noRateLimit) AddTokens(uint) error { return nil }

func (e *cloudEnv) dispatcher(execs cloud.Executions) *cloud.Dispatcher {
	q := sqsq.New(sqs.NewFromConfig(e.faultyCfg), e.st.QueueURL)
	q.Clock = e.clock
	return &cloud.Dispatcher{Store: e.store, Objects: s3obj.New(s3.NewFromConfig(e.faultyCfg), e.st.BucketName),
		Queue: q, Executions: execs, Bucket: e.st.BucketName, StateMachineARN: "arn:aws:states:us-east-1:123456789012:stateMachine:x",
		Provider: simulated.ProviderName, Model: simulated.DefaultModel}
}

func (e *cloudEnv) putObject(t *testing.T, key string, body []byte) {
	t.Helper()
	if _, err := e.s3.PutObject(e.ctx, &s3.PutObjectInput{Bucket: &e.st.BucketName, Key: &key, Body: strings.NewReader(string(body))}); err != nil {
		t.Fatal(err)
	}
}

func s3Event(bucket, encodedKey string) cloud.S3Event {
	rec := cloud.S3Record{EventSource: "aws:s3", EventName: "ObjectCreated:Put"}
	rec.S3.Bucket.Name = bucket
	rec.S3.Object.Key = encodedKey
	rec.S3.Object.ETag = "0123abcd"
	return cloud.S3Event{Records: []cloud.S3Record{rec}}
}

// meta reads the job's META item as the state machine's CheckJob state does (a
// GetItem, done and total as number strings).
func (e *cloudEnv) meta(t *testing.T, jobID string) map[string]ddbtypes.AttributeValue {
	t.Helper()
	out, err := e.db.GetItem(e.ctx, &dynamodb.GetItemInput{TableName: &e.st.TableName, ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"PK": &ddbtypes.AttributeValueMemberS{Value: "JOB#" + jobID}, "SK": &ddbtypes.AttributeValueMemberS{Value: "META"}}})
	if err != nil || out.Item == nil {
		t.Fatalf("META of %s: %v", jobID, err)
	}
	return out.Item
}

func num(item map[string]ddbtypes.AttributeValue, name string) string {
	if n, ok := item[name].(*ddbtypes.AttributeValueMemberN); ok {
		return n.Value
	}
	return ""
}

// resultItems counts the RES# items of a job by position.
func (e *cloudEnv) resultItems(t *testing.T, jobID string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	p := dynamodb.NewQueryPaginator(e.db, &dynamodb.QueryInput{TableName: &e.st.TableName, ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :res)"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: "JOB#" + jobID},
			":res": &ddbtypes.AttributeValueMemberS{Value: "RES#"}}})
	for p.HasMorePages() {
		page, err := p.NextPage(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			counts[it["SK"].(*ddbtypes.AttributeValueMemberS).Value]++
		}
	}
	return counts
}

// consume plays the SQS event source mapping: it receives batches of up to 10 with
// their receive counts, hands them to the handler, deletes what succeeded and makes
// the failures visible again at once (instead of after the visibility timeout). Every
// dupEvery-th batch is handed over twice, as two concurrent deliveries of the same
// messages. It stops when the queue stays empty.
func (e *cloudEnv) consume(t *testing.T, h *cloud.Analyze, dupEvery int) (batches, deliveries, failures int) {
	t.Helper()
	empty := 0
	for empty < 3 && batches < 500 {
		out, err := e.sqs.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: &e.st.QueueURL, MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		batches++
		ev := events.SQSEvent{}
		handles := map[string]string{}
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: *m.MessageId, Body: *m.Body,
				Attributes: map[string]string{"ApproximateReceiveCount": m.Attributes["ApproximateReceiveCount"]}})
			handles[*m.MessageId] = *m.ReceiptHandle
		}
		copies := 1
		if dupEvery > 0 && batches%dupEvery == 0 {
			copies = 2
		}
		// Duplicates are delivered one after the other: moto does not isolate
		// concurrent transactions as DynamoDB does (see docs/RELIABILITY.md).
		failed := map[string]bool{}
		for range copies {
			deliveries += len(ev.Records)
			resp, _ := h.Handle(e.ctx, ev)
			for _, f := range resp.BatchItemFailures {
				failed[f.ItemIdentifier] = true
			}
		}
		for id, rh := range handles {
			if failed[id] {
				failures++
				e.sqs.ChangeMessageVisibility(e.ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &e.st.QueueURL, ReceiptHandle: aws.String(rh), VisibilityTimeout: 0})
				continue
			}
			if _, err := e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: &e.st.QueueURL, ReceiptHandle: aws.String(rh)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return batches, deliveries, failures
}

// TestCloudFaultsNothingLost runs a whole cloud job on moto (dispatch from an S3 event
// delivered twice, fan-out sent twice, analyze batches, merge) through clients whose
// SDK middleware injects DynamoDB throttling, transaction conflicts, lost responses of
// committed transactions, BatchWriteItem unprocessed items and SendMessageBatch
// partial failures, while the provider fails 15% of calls and a third of the batches
// are delivered twice concurrently. Every exercise must be counted exactly once
// (done == total, one RES# item per position, nothing in the DLQ), the fan-out task
// signalled exactly once, and the merged document must account for every exercise.
func TestCloudFaultsNothingLost(t *testing.T) {
	var inj *injector
	count := func(kind string) { inj.count("", kind) }
	inj = newInjector(
		// Once per call, before the SDK's retries: conflicts (the store retries them) and
		// committed transactions whose response is lost (the message is redelivered and
		// must not count twice).
		faultRule{service: "DynamoDB", operation: "TransactWriteItems",
			before: everyNth(4, conflicted),
			after: func(n int) error {
				if n%5 == 3 {
					return lostResponse()
				}
				return nil
			}},
		// Throttling on every third attempt, inside the SDK's retry loop.
		faultRule{service: "DynamoDB", operation: "TransactWriteItems", perAttempt: true, before: everyNth(3, throttled)},
		faultRule{service: "DynamoDB", operation: "GetItem", perAttempt: true, before: everyNth(3, throttled)},
		faultRule{service: "DynamoDB", operation: "UpdateItem", perAttempt: true, before: everyNth(3, throttled)},
		faultRule{service: "DynamoDB", operation: "Query", perAttempt: true, before: everyNth(3, throttled)},
		faultRule{service: "DynamoDB", operation: "BatchWriteItem", partial: unprocessedHalf(count)},
		faultRule{service: "SQS", operation: "SendMessageBatch", partial: partialSend(count)},
	)
	e := newCloudEnv(t, inj)
	const exercises = 60
	cf := generateCourse(t, exercises)
	data, err := json.Marshal(cf)
	if err != nil {
		t.Fatal(err)
	}
	e.putObject(t, "input/CA/exam one.json", data)

	// Dispatch: the S3 event delivered twice maps to one job and one execution name.
	execs := &memExecutions{}
	d := e.dispatcher(execs)
	ev := s3Event(e.st.BucketName, "input/CA/exam+one.json")
	for delivery := range 2 {
		if err := retryTransient(func() error { return d.HandleS3(e.ctx, ev) }); err != nil {
			t.Fatalf("dispatch delivery %d: %v", delivery+1, err)
		}
	}
	if len(execs.input) != 1 {
		t.Fatalf("executions %v, want one job", execs.names)
	}
	jobID := execs.names[0]

	// Fan-out, twice (the state machine retrying the dispatch Lambda): every message
	// is sent twice.
	for range 2 {
		if err := retryTransient(func() error {
			return d.FanOut(e.ctx, cloud.FanOutInput{Action: "fanout", JobID: jobID, TaskToken: "tok-1"})
		}); err != nil {
			t.Fatalf("fan-out: %v", err)
		}
	}

	prov := simulated.New(simulated.Config{Dist: simulated.DistFixed, FailureRate: 0.15,
		Failures: []string{simulated.Fail429, simulated.Fail500}, Seed: 4})
	sig := &recordingSignaler{}
	var logs strings.Builder
	var logMu sync.Mutex
	_ = &logMu
	h := &cloud.Analyze{Logger: cloud.NewLogger(lockedWriter{&logMu, &logs}, slog.LevelInfo), Store: e.store, Signaler: sig, MaxReceives: mototest.MaxReceiveCount, Concurrency: 1,
		Analyzer: func(context.Context) (*pipeline.Analyzer, error) {
			return &pipeline.Analyzer{Provider: prov, Policy: retry.Policy{MaxRetries: 0}, Clock: e.clock}, nil
		}}
	batches, deliveries, failures := e.consume(t, h, 3)
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()

	// Counted once: what CheckJob reads, the RES# items, the DLQ, the signal.
	item := e.meta(t, jobID)
	if num(item, "done") != fmt.Sprint(exercises) || num(item, "total") != fmt.Sprint(exercises) {
		t.Errorf("META done %s total %s, want %d", num(item, "done"), num(item, "total"), exercises)
	}
	res := e.resultItems(t, jobID)
	if len(res) != exercises {
		t.Errorf("%d RES# items for %d exercises", len(res), exercises)
	}
	for i := range exercises {
		if n := res[fmt.Sprintf("RES#%08d", i)]; n != 1 {
			t.Errorf("position %d has %d results", i, n)
		}
	}
	dlq := e.drainDLQ(t)
	for _, task := range dlq {
		if res[fmt.Sprintf("RES#%08d", task.Position)] != 1 {
			t.Errorf("position %d is in the DLQ and was never counted: lost", task.Position)
		}
	}
	if len(sig.calls) != 1 || aws.ToString(sig.calls[0].TaskToken) != "tok-1" {
		t.Errorf("SendTaskSuccess called %d times, want once with the job's token", len(sig.calls))
	}
	job, err := e.store.GetJob(e.ctx, jobID)
	for err != nil && examina.KindOf(err) == examina.KindTransient {
		job, err = e.store.GetJob(e.ctx, jobID)
	}
	if err != nil {
		t.Fatal(err)
	}

	// Merge (through the faulty clients, retried as the state machine does) and check
	// the document.
	m := &cloud.Merger{Store: e.store, Objects: s3obj.New(s3.NewFromConfig(e.faultyCfg), e.st.BucketName)}
	var out cloud.MergeOutput
	if err := retryTransient(func() (err error) { out, err = m.Merge(e.ctx, cloud.MergeInput{JobID: jobID}); return err }); err != nil {
		t.Fatalf("merge: %v", err)
	}
	var doc examina.Result
	if err := s3obj.New(e.s3, e.st.BucketName).GetJSON(e.ctx, out.ResultKey, &doc); err != nil {
		t.Fatal(err)
	}
	ok, degraded := checkAccounted(t, cf, doc.Exercises)
	checkMergedCover(t, cf, doc)
	if job.Degraded != degraded {
		t.Errorf("META degraded %d, the results hold %d", job.Degraded, degraded)
	}
	t.Logf("FIGURES cloud: exercises=%d messages-sent=%d deliveries=%d (batches %d, every third twice) redelivered=%d provider-calls=%d ok=%d degraded=%d lost=0 double=0 signals=%d dlq=%d (all counted) injected: %s",
		exercises, 2*exercises, deliveries, batches, failures, prov.Calls(), ok, degraded, len(sig.calls), len(dlq), inj.summary())
}

func everyNth(k int, mk func() error) func(int) error {
	return func(n int) error {
		if n%k == 0 {
			return mk()
		}
		return nil
	}
}

// retryTransient calls f until it succeeds or fails with a non-transient error, as the
// state machine's and the event source's retries would; at most 20 times.
func retryTransient(f func() error) error {
	var err error
	for range 20 {
		if err = f(); err == nil || !isTransient(err) {
			return err
		}
	}
	return err
}

func isTransient(err error) bool {
	var mr *cloud.MergeRetryableError
	return examina.KindOf(err) == examina.KindTransient || errors.As(err, &mr)
}

// drainDLQ returns the tasks of the messages in the dead-letter queue.
func (e *cloudEnv) drainDLQ(t *testing.T) []cloud.Task {
	t.Helper()
	var tasks []cloud.Task
	for range 100 {
		out, err := e.sqs.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: &e.st.DLQURL, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			task, err := cloud.ParseTask(aws.ToString(m.Body))
			if err != nil {
				t.Errorf("malformed message in the DLQ: %v", err)
				continue
			}
			tasks = append(tasks, task)
			e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: &e.st.DLQURL, ReceiptHandle: m.ReceiptHandle})
		}
	}
	return tasks
}

func (in *injector) summary() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var parts []string
	for k, v := range in.faults {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
