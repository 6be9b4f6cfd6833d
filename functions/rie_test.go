package functions

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/stack/lambdarie"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
	"github.com/examina-dev/examina-serverless/statemachine"
)

// exampleExercises is the number of exercises of examples/ade.json.
const exampleExercises = 35

// buildDir holds the bootstraps this test binary builds; TestMain creates and removes it.
var buildDir string

// bootstraps builds each function's bootstrap at most once per test binary (building
// takes seconds, and every test runs the same binaries) and returns its path.
var bootstraps = map[string]func() (string, error){
	"dispatch": buildOnce("dispatch"),
	"analyze":  buildOnce("analyze"),
	"merge":    buildOnce("merge"),
}

func buildOnce(name string) func() (string, error) {
	return sync.OnceValues(func() (string, error) {
		out := filepath.Join(buildDir, name, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return "", err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		return out, lambdarie.BuildBootstrap(ctx, filepath.Join("functions", name), out, runtime.GOARCH)
	})
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "examina-functions-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// TestDispatchS3 uploads the example course at the key events/s3-put.json names and
// invokes the dispatch bootstrap with that event (delivered twice, as S3 may): one
// job of 35 exercises, its exercise inputs, and one execution named after it.
func TestDispatchS3(t *testing.T) {
	e := newEnv(t)
	dispatch := e.start("dispatch")
	id := e.dispatchS3(dispatch)

	m := e.meta(id)
	if m.Status != "pending" || m.Total != exampleExercises || m.Done != 0 || m.Course.Code != "ADE" ||
		m.Provider != "simulated" || !strings.HasPrefix(m.Source, "s3://"+e.st.BucketName+"/") {
		t.Errorf("META = %+v; want a pending simulated ADE job of %d exercises from the bucket", m, exampleExercises)
	}
	if n := e.count(id, "EX#"); n != exampleExercises {
		t.Errorf("%d EX# items, want %d", n, exampleExercises)
	}
	exec := e.execution(id)
	var in cloud.ExecutionInput
	if err := json.Unmarshal([]byte(aws.ToString(exec.Input)), &in); err != nil || in != (cloud.ExecutionInput{JobID: id, Course: "ADE"}) {
		t.Errorf("execution input = %s, %v", aws.ToString(exec.Input), err)
	}

	// The same notification again is the same job: nothing new, no second execution.
	ev := e.s3Event()
	e.invoke(dispatch, ev, nil)
	if names := e.executionNames(); !slices.Equal(names, []string{id}) {
		t.Errorf("executions after a duplicate notification = %v, want [%s]", names, id)
	}
	if m := e.meta(id); m.Total != exampleExercises || m.Status != "pending" {
		t.Errorf("META after a duplicate notification = %+v", m)
	}
}

// TestDispatchAPI invokes the dispatch bootstrap with events/api-post.json and
// events/api-get.json: 202 with a job id, then 200 with its status, 404 for an
// unknown job and 400 for a malformed id.
func TestDispatchAPI(t *testing.T) {
	e := newEnv(t)
	dispatch := e.start("dispatch")

	post := e.apiPost()
	resp := e.api(dispatch, post)
	var acc cloud.Accepted
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal([]byte(resp.Body), &acc) != nil ||
		!cloud.ValidJobID(acc.JobID) || !strings.HasPrefix(acc.JobID, "ade-") || acc.Status != "pending" ||
		acc.Links["self"] != "/analyses/"+acc.JobID {
		t.Fatalf("POST = %d %s", resp.StatusCode, resp.Body)
	}
	id := acc.JobID
	if names := e.executionNames(); !slices.Equal(names, []string{id}) {
		t.Errorf("executions = %v, want [%s]", names, id)
	}
	// The same request again (same Idempotency-Key) is the same job.
	if again := e.api(dispatch, post); again.StatusCode != http.StatusAccepted || !strings.Contains(again.Body, `"job_id":"`+id+`"`) {
		t.Errorf("repeated POST = %d %s", again.StatusCode, again.Body)
	}

	tests := []struct {
		name   string
		job    string
		status int
		check  func(t *testing.T, body string)
	}{
		{"dispatched job", id, http.StatusOK, func(t *testing.T, body string) {
			var v cloud.JobView
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Fatal(err)
			}
			if v.JobID != id || v.Status != "pending" || v.Total != exampleExercises || v.Done != 0 || v.Course.Code != "ADE" || v.Result != nil {
				t.Errorf("view = %+v", v)
			}
		}},
		{"unknown job", "ade-000000000000", http.StatusNotFound, nil},
		{"malformed id: upper case", strings.ToUpper(id), http.StatusBadRequest, nil},
		{"malformed id: short hash", "ade-08d1", http.StatusBadRequest, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.api(dispatch, e.apiGet(tc.job))
			var eb cloud.ErrorBody
			if resp.StatusCode != tc.status {
				t.Fatalf("GET %s = %d %s, want %d", tc.job, resp.StatusCode, resp.Body, tc.status)
			}
			if tc.check != nil {
				tc.check(t, resp.Body)
			} else if err := json.Unmarshal([]byte(resp.Body), &eb); err != nil || eb.Error == "" {
				t.Errorf("error body = %s, %v", resp.Body, err)
			}
		})
	}
}

// TestJobThroughBootstraps runs one job through the three bootstraps: S3 dispatch, the
// fan-out task with the execution's real task token (35 messages), an SQS batch of
// real messages with a duplicate delivery and two failing items, the rest of the queue
// drained through analyze (which completes the fan-out task), and merge.
func TestJobThroughBootstraps(t *testing.T) {
	e := newEnv(t)
	dispatch, analyze, merge := e.start("dispatch"), e.start("analyze"), e.start("merge")
	id := e.dispatchS3(dispatch)
	exec := e.execution(id)
	token := e.fanOutToken(aws.ToString(exec.ExecutionArn))

	// Fan-out: exactly one message per exercise, positions 0..34.
	fanout := event(t, "fanout-task.json")
	set(t, fanout, id, "job_id")
	set(t, fanout, token, "task_token")
	e.invoke(dispatch, fanout, nil)
	if m := e.meta(id); m.Status != "running" || m.TaskToken != token {
		t.Fatalf("META after fan-out = %+v; want running with the task token", m)
	}
	if n := e.queueDepth(); n != exampleExercises {
		t.Fatalf("queue holds %d messages, want %d", n, exampleExercises)
	}
	msgs := e.receiveAll()
	if len(msgs) != exampleExercises {
		t.Fatalf("received %d messages, want %d", len(msgs), exampleExercises)
	}
	seen := map[int]bool{}
	for _, m := range msgs {
		task, err := cloud.ParseTask(aws.ToString(m.Body))
		if err != nil || task.JobID != id || task.Total != exampleExercises || seen[task.Position] {
			t.Fatalf("message %s: %+v, %v", aws.ToString(m.MessageId), task, err)
		}
		seen[task.Position] = true
	}

	// One batch: three real messages, a second delivery of the first, a cut-off body
	// (a poison message: reported failed until the queue moves it to the DLQ) and a
	// well-formed body for a job that does not exist (its result cannot be recorded:
	// reported failed). Exactly those two are batch item failures; the duplicate is
	// counted once.
	first := msgs[:3]
	records := make([]any, 0, 6)
	for _, m := range first {
		records = append(records, e.sqsRecord(m, aws.ToString(m.MessageId), aws.ToString(m.Body), "1"))
	}
	records = append(records, e.sqsRecord(first[0], aws.ToString(first[0].MessageId), aws.ToString(first[0].Body), "2"))
	body := aws.ToString(first[1].Body)
	const poisonID, unknownID = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	records = append(records, e.sqsRecord(first[1], poisonID, body[:len(body)/2], "1"))
	records = append(records, e.sqsRecord(first[2], unknownID, withJobID(t, aws.ToString(first[2].Body), "ade-000000000000"), "1"))
	batch := event(t, "sqs-batch.json")
	set(t, batch, records, "Records")
	if got := e.analyze(analyze, batch); !slices.Equal(sorted(got), []string{poisonID, unknownID}) {
		t.Fatalf("batchItemFailures = %v, want [%s %s]", got, poisonID, unknownID)
	}
	if m := e.meta(id); m.Done != len(first) || m.Signalled {
		t.Fatalf("META after the batch = %+v; want done %d (the duplicate counted once), not signalled", m, len(first))
	}
	if n := e.count(id, "RES#"); n != len(first) {
		t.Fatalf("%d RES# items, want %d", n, len(first))
	}
	if n := e.count("ade-000000000000", ""); n != 0 {
		t.Fatalf("the unknown job's message wrote %d items", n)
	}
	e.deleteMessages(first)

	// Drain the rest in batches of ten; the last result completes the fan-out task.
	rest := msgs[len(first):]
	for len(rest) > 0 {
		n := min(10, len(rest))
		records := make([]any, 0, n)
		for _, m := range rest[:n] {
			records = append(records, e.sqsRecord(m, aws.ToString(m.MessageId), aws.ToString(m.Body), "1"))
		}
		batch := event(t, "sqs-batch.json")
		set(t, batch, records, "Records")
		if got := e.analyze(analyze, batch); len(got) != 0 {
			t.Fatalf("batchItemFailures = %v, want none", got)
		}
		e.deleteMessages(rest[:n])
		rest = rest[n:]
	}
	if m := e.meta(id); m.Done != exampleExercises || !m.Signalled || m.Status != "running" {
		t.Fatalf("META after draining = %+v; want done %d, signalled", m, exampleExercises)
	}
	if n := e.queueDepth(); n != 0 {
		t.Fatalf("queue still holds %d messages", n)
	}
	// SendTaskSuccess reached the execution: it left FanOut, ran Merge (moto's Lambda
	// stub stands in for the merge function there) and succeeded.
	if st := e.finish(aws.ToString(exec.ExecutionArn)); st != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s, want SUCCEEDED", st)
	}

	// Merge: the result document under results/, the job completed.
	mergeTask := event(t, "merge-task.json")
	set(t, mergeTask, id, "job_id")
	var out cloud.MergeOutput
	e.invoke(merge, mergeTask, &out)
	wantKey := "results/ADE/" + id + ".json"
	if out.JobID != id || out.Status != "completed" || out.ResultKey != wantKey || out.MergedGroups == 0 || out.Topics == 0 || out.CoreLoops == 0 {
		t.Fatalf("merge output = %+v", out)
	}
	doc := e.object(wantKey)
	for _, k := range []string{"job_id", "course", "provider", "model", "prompt_version", "stats", "exercises", "merged_exercises", "topics", "core_loops"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("result document has no %q", k)
		}
	}
	var res struct {
		JobID     string         `json:"job_id"`
		Stats     map[string]any `json:"stats"`
		Exercises []any          `json:"exercises"`
		Merged    []any          `json:"merged_exercises"`
		Topics    []any          `json:"topics"`
		CoreLoops []any          `json:"core_loops"`
		Course    struct{ Code string }
	}
	raw, _ := json.Marshal(doc)
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	if res.JobID != id || res.Course.Code != "ADE" || len(res.Exercises) != exampleExercises || len(res.Merged) != out.MergedGroups ||
		len(res.Topics) != out.Topics || len(res.CoreLoops) != out.CoreLoops {
		t.Errorf("result document: job %s, course %s, %d exercises, %d groups, %d topics, %d loops; merge said %+v",
			res.JobID, res.Course.Code, len(res.Exercises), len(res.Merged), len(res.Topics), len(res.CoreLoops), out)
	}
	for _, k := range []string{"exercises", "analyzed", "degraded", "invalid", "merged_groups", "low_confidence_skipped",
		"provider_calls", "retries", "cache_hits", "elapsed_ms"} {
		if _, ok := res.Stats[k]; !ok {
			t.Errorf("result stats have no %q", k)
		}
	}
	if m := e.meta(id); m.Status != "completed" || m.ResultKey != wantKey {
		t.Errorf("META after merge = %+v; want completed with result_key %s", m, wantKey)
	}
	// The API serves the completed job with its result document.
	resp := e.api(dispatch, e.apiGet(id))
	var view cloud.JobView
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &view) != nil || view.Status != "completed" ||
		view.Result == nil || len(view.Result.MergedExercises) != out.MergedGroups {
		t.Errorf("GET after merge = %d %.300s", resp.StatusCode, resp.Body)
	}
}

// env is a fresh moto with the stack template.yaml describes (the real state machine,
// with a fan-out timeout no test reaches) and the clients the tests check it with.
type env struct {
	t   *testing.T
	ctx context.Context
	srv *mototest.Server
	st  *mototest.Stack
	db  *dynamodb.Client
	s3  *s3.Client
	sqs *sqs.Client
	sfn *sfn.Client
}

func newEnv(t *testing.T) *env {
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
	return &env{t: t, ctx: ctx, srv: srv, st: st, db: dynamodb.NewFromConfig(cfg), s3: s3.NewFromConfig(cfg),
		sqs: sqs.NewFromConfig(cfg), sfn: sfn.NewFromConfig(cfg)}
}

// start runs the function's bootstrap under aws-lambda-rie with the environment
// template.yaml gives it, pointed at moto.
func (e *env) start(name string) *lambdarie.Function {
	e.t.Helper()
	build, ok := bootstraps[name]
	if !ok {
		e.t.Fatalf("no function %q", name)
	}
	bootstrap, err := build()
	if err != nil {
		e.t.Fatal(err)
	}
	vars := append(e.srv.Env(), e.st.LambdaEnv()...)
	vars = append(vars, "EXAMINA_PROVIDER=simulated", "EXAMINA_BATCH_SIZE=10", "EXAMINA_MIN_CONFIDENCE=0.5", "LOG_LEVEL=INFO")
	return lambdarie.Start(e.t, bootstrap, vars)
}

// invoke sends doc to fn and decodes the response into out; with out nil the
// response must be null (the S3 and fan-out shapes return nothing).
func (e *env) invoke(fn *lambdarie.Function, doc any, out any) {
	e.t.Helper()
	payload, err := json.Marshal(doc)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := fn.Invoke(e.ctx, payload)
	if err != nil {
		e.t.Fatalf("invoke: %v", err)
	}
	if out == nil {
		if strings.TrimSpace(string(resp)) != "null" {
			e.t.Fatalf("response = %s, want null", resp)
		}
		return
	}
	if err := json.Unmarshal(resp, out); err != nil {
		e.t.Fatalf("response %.300s: %v", resp, err)
	}
}

// api invokes the dispatch function with an HTTP API event.
func (e *env) api(fn *lambdarie.Function, doc any) events.APIGatewayV2HTTPResponse {
	e.t.Helper()
	var resp events.APIGatewayV2HTTPResponse
	e.invoke(fn, doc, &resp)
	return resp
}

// analyze invokes the analyze function with an SQS event and returns the ids of
// its batch item failures.
func (e *env) analyze(fn *lambdarie.Function, doc any) []string {
	e.t.Helper()
	var resp events.SQSEventResponse
	e.invoke(fn, doc, &resp)
	ids := []string{}
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// s3Event is events/s3-put.json for the stack's bucket.
func (e *env) s3Event() map[string]any {
	ev := event(e.t, "s3-put.json")
	set(e.t, ev, e.st.BucketName, "Records", 0, "s3", "bucket", "name")
	set(e.t, ev, "arn:aws:s3:::"+e.st.BucketName, "Records", 0, "s3", "bucket", "arn")
	return ev
}

// dispatchS3 uploads examples/ade.json at the key events/s3-put.json names, invokes
// dispatch with the event and returns the job id the contract derives for it.
func (e *env) dispatchS3(dispatch *lambdarie.Function) string {
	e.t.Helper()
	ev := e.s3Event()
	rec := ev["Records"].([]any)[0].(map[string]any)["s3"].(map[string]any)["object"].(map[string]any)
	key, err := url.QueryUnescape(rec["key"].(string))
	if err != nil {
		e.t.Fatal(err)
	}
	data := exampleCourse(e.t)
	put, err := e.s3.PutObject(e.ctx, &s3.PutObjectInput{Bucket: &e.st.BucketName, Key: &key,
		Body: strings.NewReader(string(data)), ContentType: aws.String("application/json")})
	if err != nil {
		e.t.Fatal(err)
	}
	set(e.t, ev, len(data), "Records", 0, "s3", "object", "size")
	// Dispatch reads the version the event names: name the one just written (an
	// unversioned bucket has none; the ETag then identifies the upload).
	version := aws.ToString(put.VersionId)
	if version == "" || version == "null" {
		delete(rec, "versionId")
		version = rec["eTag"].(string)
	} else {
		rec["versionId"] = version
	}
	e.invoke(dispatch, ev, nil)
	id := cloud.JobID("ADE", e.st.BucketName+"/"+key+"/"+version)
	if names := e.executionNames(); !slices.Equal(names, []string{id}) {
		e.t.Fatalf("executions = %v, want [%s]", names, id)
	}
	return id
}

// apiPost is events/api-post.json with examples/ade.json as its body.
func (e *env) apiPost() map[string]any {
	ev := event(e.t, "api-post.json")
	data := exampleCourse(e.t)
	set(e.t, ev, string(data), "body")
	set(e.t, ev, fmt.Sprint(len(data)), "headers", "content-length")
	return ev
}

// apiGet is events/api-get.json for job.
func (e *env) apiGet(job string) map[string]any {
	ev := event(e.t, "api-get.json")
	set(e.t, ev, "/analyses/"+job, "rawPath")
	set(e.t, ev, "/analyses/"+job, "requestContext", "http", "path")
	set(e.t, ev, job, "pathParameters", "job")
	return ev
}

// sqsRecord is a record shaped like those of events/sqs-batch.json for a message
// received from the queue, with the given id, body and receive count.
func (e *env) sqsRecord(m sqstypes.Message, id, body, receives string) map[string]any {
	e.t.Helper()
	rec := event(e.t, "sqs-batch.json")["Records"].([]any)[0].(map[string]any)
	attrs := maps.Clone(m.Attributes)
	attrs["ApproximateReceiveCount"] = receives
	set(e.t, rec, id, "messageId")
	set(e.t, rec, aws.ToString(m.ReceiptHandle), "receiptHandle")
	set(e.t, rec, body, "body")
	set(e.t, rec, attrs, "attributes")
	set(e.t, rec, aws.ToString(m.MD5OfBody), "md5OfBody")
	set(e.t, rec, e.st.QueueARN, "eventSourceARN")
	return rec
}

// meta is the part of a job's META item the tests check, read with the contract's
// attribute names.
type meta struct {
	Status    string `dynamodbav:"status"`
	Total     int    `dynamodbav:"total"`
	Done      int    `dynamodbav:"done"`
	Signalled bool   `dynamodbav:"signalled"`
	TaskToken string `dynamodbav:"task_token"`
	ResultKey string `dynamodbav:"result_key"`
	Provider  string `dynamodbav:"provider"`
	Source    string `dynamodbav:"source"`
	Course    struct {
		Code string `dynamodbav:"code"`
	} `dynamodbav:"course"`
}

func (e *env) meta(id string) meta {
	e.t.Helper()
	out, err := e.db.GetItem(e.ctx, &dynamodb.GetItemInput{TableName: &e.st.TableName, ConsistentRead: aws.Bool(true),
		Key: map[string]dbtypes.AttributeValue{
			"PK": &dbtypes.AttributeValueMemberS{Value: "JOB#" + id},
			"SK": &dbtypes.AttributeValueMemberS{Value: "META"},
		}})
	if err != nil {
		e.t.Fatal(err)
	}
	if out.Item == nil {
		e.t.Fatalf("no META item for job %s", id)
	}
	var m meta
	if err := attributevalue.UnmarshalMap(out.Item, &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

// count returns the number of the job's items whose sort key starts with prefix
// ("": all of them).
func (e *env) count(id, prefix string) int {
	e.t.Helper()
	in := &dynamodb.QueryInput{TableName: &e.st.TableName, Select: dbtypes.SelectCount, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":pk": &dbtypes.AttributeValueMemberS{Value: "JOB#" + id}}}
	if prefix != "" {
		in.KeyConditionExpression = aws.String("PK = :pk AND begins_with(SK, :p)")
		in.ExpressionAttributeValues[":p"] = &dbtypes.AttributeValueMemberS{Value: prefix}
	}
	out, err := e.db.Query(e.ctx, in)
	if err != nil {
		e.t.Fatal(err)
	}
	return int(out.Count)
}

// executionNames returns the names of the state machine's executions, sorted.
func (e *env) executionNames() []string {
	e.t.Helper()
	out, err := e.sfn.ListExecutions(e.ctx, &sfn.ListExecutionsInput{StateMachineArn: &e.st.StateMachineArn})
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, x := range out.Executions {
		names = append(names, aws.ToString(x.Name))
	}
	slices.Sort(names)
	return names
}

// execution describes the execution named after the job.
func (e *env) execution(id string) *sfn.DescribeExecutionOutput {
	e.t.Helper()
	arn := strings.Replace(e.st.StateMachineArn, ":stateMachine:", ":execution:", 1) + ":" + id
	out, err := e.sfn.DescribeExecution(e.ctx, &sfn.DescribeExecutionInput{ExecutionArn: &arn})
	if err != nil {
		e.t.Fatalf("execution %s: %v", id, err)
	}
	return out
}

// fanOutToken waits for the execution's fan-out task and returns its task token.
func (e *env) fanOutToken(exec string) string {
	e.t.Helper()
	token, err := mototest.FanOutToken(e.ctx, e.sfn, exec)
	if err != nil {
		e.t.Fatal(err)
	}
	return token
}

// finish waits for the execution to end and returns its status.
func (e *env) finish(exec string) sfntypes.ExecutionStatus {
	e.t.Helper()
	st, err := mototest.WaitExecution(e.ctx, e.sfn, exec)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// queueDepth returns the queue's visible plus in-flight messages.
func (e *env) queueDepth() int {
	e.t.Helper()
	out, err := e.sqs.GetQueueAttributes(e.ctx, &sqs.GetQueueAttributesInput{QueueUrl: &e.st.QueueURL,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, k := range []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible} {
		var v int
		if _, err := fmt.Sscan(out.Attributes[string(k)], &v); err != nil {
			e.t.Fatalf("%s = %q", k, out.Attributes[string(k)])
		}
		n += v
	}
	return n
}

// receiveAll takes every visible message off the queue (they stay in flight for the
// queue's visibility timeout, longer than any test), as the Lambda poller would.
func (e *env) receiveAll() []sqstypes.Message {
	e.t.Helper()
	var msgs []sqstypes.Message
	for {
		out, err := e.sqs.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: &e.st.QueueURL, MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return msgs
		}
		msgs = append(msgs, out.Messages...)
	}
}

// deleteMessages deletes processed messages, as the poller does after a success.
func (e *env) deleteMessages(msgs []sqstypes.Message) {
	e.t.Helper()
	for _, m := range msgs {
		if _, err := e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: &e.st.QueueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// object reads and decodes a JSON object of the bucket.
func (e *env) object(key string) map[string]any {
	e.t.Helper()
	out, err := e.s3.GetObject(e.ctx, &s3.GetObjectInput{Bucket: &e.st.BucketName, Key: &key})
	if err != nil {
		e.t.Fatalf("s3://%s/%s: %v", e.st.BucketName, key, err)
	}
	defer out.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(out.Body).Decode(&doc); err != nil {
		e.t.Fatalf("s3://%s/%s: %v", e.st.BucketName, key, err)
	}
	return doc
}

// event reads events/name as a generic JSON document, to be patched with set and
// sent as it is otherwise.
func event(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("events/%s: %v", name, err)
	}
	return doc
}

// set replaces the value at path (map keys and slice indexes) of a decoded event. The
// path must exist: patching keeps the event's shape.
func set(t *testing.T, doc any, value any, path ...any) {
	t.Helper()
	cur := doc
	for i, p := range path {
		last := i == len(path)-1
		switch k := p.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("set %v: %v is not an object", path, path[:i])
			}
			if _, ok := m[k]; !ok {
				t.Fatalf("set %v: the event has no %v", path, path[:i+1])
			}
			if last {
				m[k] = value
				return
			}
			cur = m[k]
		case int:
			s, ok := cur.([]any)
			if !ok || k < 0 || k >= len(s) {
				t.Fatalf("set %v: the event has no %v", path, path[:i+1])
			}
			if last {
				s[k] = value
				return
			}
			cur = s[k]
		default:
			t.Fatalf("set %v: bad path element %v", path, p)
		}
	}
}

// withJobID returns a message body naming another job.
func withJobID(t *testing.T, body, id string) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	set(t, doc, id, "job_id")
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func exampleCourse(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", "ade.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
