package reliability

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/providers"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/retry/retrytest"
	"github.com/examina-dev/examina-serverless/shared/s3obj"
	"github.com/examina-dev/examina-serverless/shared/sqsq"
	"github.com/examina-dev/examina-serverless/shared/testkit/fakeopenai"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
)

// cloudLeakCases are the two ways a Lambda reads its provider key, each with its own
// recognisable fake key (one OpenAI-shaped, one matching no known key pattern).
var cloudLeakCases = []struct {
	name   string
	key    string
	secret bool // Secrets Manager instead of an SSM SecureString
}{
	{"ssm-securestring", "sk-test-CLOUDLEAK-4d9e2b7a1c6f08e3Qz7Wx3Kp", false},
	{"secrets-manager", "tok.CLOUDLEAK.b5a1d0e9f4.Rm2Vh8Ty", true},
}

// cloudLeaks is leaks plus the key's last 8 characters.
func cloudLeaks(key string, blobs map[string][]byte) []string {
	out := leaks(key, blobs)
	tail := []byte(key[len(key)-8:])
	for name, b := range blobs {
		if i := bytes.Index(b, tail); i >= 0 {
			lo, hi := max(i-80, 0), min(i+len(tail)+40, len(b))
			out = append(out, fmt.Sprintf("%s (last 8 characters): …%q…", name, b[lo:hi]))
		}
	}
	sort.Strings(out)
	return out
}

// lambdas are the three handlers wired as functions/*/main.go wire them (newHandler is
// in package main, so it cannot be imported): from the environment through
// cloud.LoadEnv and providers.FromEnv, the key through cloud.APIKey, every client on
// the SDK. Differences: the AWS config comes from moto instead of
// config.LoadDefaultConfig, the executions and the task signal are recorded (moto has
// no state machine here), and the analyzer's retries use a fake clock.
type lambdas struct {
	dispatch *cloud.Dispatcher
	analyze  *cloud.Analyze
	merge    *cloud.Merger
	key      *cloud.APIKey
	execs    *memExecutions
	sig      *recordingSignaler
}

func wireLambdas(ctx context.Context, getenv func(string) string, awsCfg aws.Config, logs io.Writer) (*lambdas, error) {
	env, err := cloud.LoadEnv(getenv)
	if err != nil {
		return nil, err
	}
	if err := env.Require("TABLE_NAME", "QUEUE_URL", "BUCKET_NAME", "STATE_MACHINE_ARN", "EXAMINA_PROVIDER"); err != nil {
		return nil, err
	}
	pcfg, err := providers.FromEnv(getenv).WithDefaults()
	if err != nil {
		return nil, err
	}
	log := cloud.NewLogger(logs, env.LogLevel)
	store := dynamo.New(dynamodb.NewFromConfig(awsCfg), env.TableName)
	bucket := s3obj.New(s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = true }), env.BucketName)
	l := &lambdas{execs: &memExecutions{}, sig: &recordingSignaler{}}
	l.dispatch = &cloud.Dispatcher{Store: store, Objects: bucket, Queue: sqsq.New(sqs.NewFromConfig(awsCfg), env.QueueURL),
		Executions: l.execs, Bucket: env.BucketName, StateMachineARN: env.StateMachineARN, InputPrefix: env.InputPrefix,
		Provider: pcfg.Name, Model: pcfg.Model, Logger: log}
	l.key = &cloud.APIKey{Parameter: env.APIKeyParameter, SecretID: env.APIKeySecret}
	if l.key.Parameter != "" {
		l.key.SSM = ssm.NewFromConfig(awsCfg)
	}
	if l.key.SecretID != "" {
		l.key.Secrets = secretsmanager.NewFromConfig(awsCfg)
	}
	clock := retrytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l.analyze = &cloud.Analyze{Store: store, Signaler: l.sig, MaxReceives: env.MaxReceives, Logger: log,
		Analyzer: func(ctx context.Context) (*pipeline.Analyzer, error) {
			cfg := pcfg
			k, err := l.key.Get(ctx)
			if err != nil {
				return nil, err
			}
			if k != "" {
				cfg.APIKey = k
			}
			p, err := providers.New(ctx, cfg)
			if err != nil {
				return nil, err
			}
			return &pipeline.Analyzer{Provider: p, Policy: retry.DefaultPolicy(), CallTimeout: cfg.Timeout, Logger: log, Clock: clock}, nil
		}}
	l.merge = &cloud.Merger{Store: store, Objects: bucket, ResultsPrefix: env.ResultsPrefix, MinConfidence: env.MinConfidence, Logger: log}
	return l, nil
}

// exampleADE returns the first n exercises of examples/ade.json as a course file body.
func exampleADE(t *testing.T, n int) (examina.CourseFile, []byte) {
	t.Helper()
	root, err := mototest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "examples", "ade.json"))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := course.Parse(data, "ade.json", course.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cf.Exercises = cf.Exercises[:n]
	body, err := json.Marshal(cf)
	if err != nil {
		t.Fatal(err)
	}
	return cf, body
}

// apiEvent is an API Gateway HTTP API (payload v2) event as the Lambda receives it.
func apiEvent(t *testing.T, method, path, body, requestID string) json.RawMessage {
	t.Helper()
	var req events.APIGatewayV2HTTPRequest
	req.Version, req.RouteKey, req.RawPath, req.Body = "2.0", "$default", path, body
	req.Headers = map[string]string{"content-type": "application/json"}
	req.RequestContext.HTTP.Method, req.RequestContext.HTTP.Path = method, path
	req.RequestContext.RequestID = requestID
	raw, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestNoKeyLeakCloudRun runs a whole cloud job on one moto, once with the provider key
// in an SSM SecureString and once in Secrets Manager: the API POST through the
// dispatch handler, the fan-out to the real queue, analyze batches read from it (with
// their receive counts) by the analyze handler, whose provider is the OpenAI-compatible
// client built from the key cloud.APIKey read, against a fake server that requires the
// key and echoes it back in error bodies (500, 429, 400, 401, 403, a proxy page
// answered 200, a malformed body), the merge, and the API GET of the finished job.
// Logs are JSON at debug level. Scanned for the key, its last 8 and 12 characters and
// its base64 forms: every log line, every item of the table, every object of the
// bucket (gunzipped when compressed), every message delivered and any left in the
// queue or the DLQ, the API responses, the execution inputs and the task output.
func TestNoKeyLeakCloudRun(t *testing.T) {
	srv := mototest.Start(t)
	for i, tc := range cloudLeakCases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			st, err := srv.Provision(ctx, mototest.ProvisionOptions{Prefix: fmt.Sprintf("cloudleak%d", i)})
			if err != nil {
				t.Fatal(err)
			}
			awsCfg := srv.AWSConfig(ctx)

			envs := map[string]string{"EXAMINA_PROVIDER": "openai", "EXAMINA_MODEL": "gpt-test", "LOG_LEVEL": "DEBUG",
				"STATE_MACHINE_ARN": "arn:aws:states:us-east-1:" + mototest.AccountID + ":stateMachine:cloudleak"}
			for _, kv := range st.LambdaEnv() {
				k, v, _ := strings.Cut(kv, "=")
				if _, set := envs[k]; !set {
					envs[k] = v
				}
			}
			if tc.secret {
				name := "examina/cloudleak/provider-key"
				if _, err := secretsmanager.NewFromConfig(awsCfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
					Name: &name, SecretString: aws.String(tc.key)}); err != nil {
					t.Fatal(err)
				}
				envs["EXAMINA_API_KEY_SECRET"] = name
			} else {
				name := "/examina/cloudleak/provider-key"
				if _, err := ssm.NewFromConfig(awsCfg).PutParameter(ctx, &ssm.PutParameterInput{Name: &name,
					Value: aws.String(tc.key), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
					t.Fatal(err)
				}
				envs["EXAMINA_API_KEY_PARAMETER"] = name
			}

			// The course: all of examples/ade.json, exercise i meeting leak scenario
			// i mod 8.
			cf, body := exampleADE(t, 35)
			scenario := func(pos int) int { return pos % len(leakScenarios) }
			var mu sync.Mutex
			served := map[int]int{} // echoing answers served, by position
			unmatched := 0
			fake := fakeopenai.New(fakeopenai.Config{APIKey: tc.key,
				Respond: func(_ int, r fakeopenai.Request) fakeopenai.Answer {
					// The exercise itself, not the previous one.
					user := userMessage(r)
					_, cur, _ := strings.Cut(user, "<exercise>\n")
					cur, _, _ = strings.Cut(cur, "\n</exercise>")
					mu.Lock()
					defer mu.Unlock()
					for pos, ex := range cf.Exercises {
						if cur != ex.Text {
							continue
						}
						if as := leakScenarios[scenario(pos)].answers(tc.key); served[pos] < len(as) {
							served[pos]++
							return as[served[pos]-1]
						}
						return fakeopenai.Answer{}
					}
					unmatched++
					return fakeopenai.Answer{}
				}})
			defer fake.Close()
			envs["OPENAI_BASE_URL"] = fake.BaseURL()

			var logMu sync.Mutex
			var logs strings.Builder
			l, err := wireLambdas(ctx, func(k string) string { return envs[k] }, awsCfg, lockedWriter{&logMu, &logs})
			if err != nil {
				t.Fatal(err)
			}
			blobs := map[string][]byte{}
			addJSON := func(name string, v any) {
				b, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				blobs[name] = b
			}

			// Dispatch: POST the course through the Lambda's entry point.
			out, err := l.dispatch.Handle(ctx, apiEvent(t, "POST", "/courses/ADE/analyses", string(body), "req-cloudleak"))
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			post, _ := out.(events.APIGatewayV2HTTPResponse)
			addJSON("the API POST response", out)
			var acc cloud.Accepted
			if post.StatusCode != 202 || json.Unmarshal([]byte(post.Body), &acc) != nil {
				t.Fatalf("POST answered %d %s", post.StatusCode, post.Body)
			}
			fan, _ := json.Marshal(cloud.FanOutInput{Action: "fanout", JobID: acc.JobID, TaskToken: "tok-cloudleak"})
			if _, err := l.dispatch.Handle(ctx, fan); err != nil {
				t.Fatalf("fan-out: %v", err)
			}

			// Analyze: the event source mapping, batches of up to 10 with receive counts.
			bodies := drainQueue(t, ctx, sqs.NewFromConfig(awsCfg), st.QueueURL, l.analyze)
			for i, b := range bodies {
				blobs[fmt.Sprintf("message %d delivered", i)] = []byte(b)
			}
			if len(l.sig.calls) != 1 {
				t.Fatalf("task signalled %d times, want once", len(l.sig.calls))
			}
			addJSON("the task output", l.sig.calls[0])
			addJSON("the execution inputs", l.execs.input)

			// Merge, then GET the finished job with its document.
			mout, err := l.merge.Merge(ctx, cloud.MergeInput{JobID: acc.JobID})
			if err != nil {
				t.Fatalf("merge: %v", err)
			}
			addJSON("the merge output", mout)
			out, err = l.dispatch.Handle(ctx, apiEvent(t, "GET", "/analyses/"+acc.JobID, "", "req-cloudleak-get"))
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			get, _ := out.(events.APIGatewayV2HTTPResponse)
			addJSON("the API GET response", out)
			var view cloud.JobView
			if get.StatusCode != 200 || json.Unmarshal([]byte(get.Body), &view) != nil || view.Result == nil {
				t.Fatalf("GET answered %d %.300s", get.StatusCode, get.Body)
			}
			blobs["the API GET body"] = []byte(get.Body)

			// The key was read once and really used: every request carried it, and every
			// echoing answer was served, so the client did read the key back.
			if n := l.key.Loads(); n != 1 {
				t.Errorf("the key was loaded %d times, want once per cold start", n)
			}
			reqs := fake.Requests()
			for i, r := range reqs {
				if r.Header.Get("Authorization") != "Bearer "+tc.key {
					t.Errorf("request %d did not carry the key", i)
				}
			}
			if s := fake.Stats(); s.Requests == 0 || s.Admitted != s.Requests {
				t.Errorf("fake server stats %+v: the key was not sent as required", s)
			}
			mu.Lock()
			defer mu.Unlock()
			for pos := range cf.Exercises {
				// The analyzer may give up before the last scripted answer (garbage:
				// one repair, then degraded); at least one must have reached it.
				sc := leakScenarios[scenario(pos)]
				if want := len(sc.answers(tc.key)); want > 0 && served[pos] == 0 {
					t.Errorf("exercise %d (%s): no echoing answer served", pos, sc.marker)
				}
			}
			if unmatched > 0 {
				t.Errorf("%d requests matched no exercise", unmatched)
			}
			if len(reqs) > 0 && len(cloudLeaks(tc.key, map[string][]byte{"a request header": []byte(reqs[0].Header.Get("Authorization"))})) == 0 {
				t.Error("the scanner does not see the key in the Authorization header")
			}
			res := view.Result
			ok, degraded := checkAccounted(t, cf, res.Exercises)
			if degraded == 0 || ok == 0 || view.Done != len(cf.Exercises) || view.Status != examina.JobCompleted {
				t.Errorf("job %s done %d/%d: ok %d, degraded %d; want a completed job with both", view.Status, view.Done, view.Total, ok, degraded)
			}

			// Everything the run left behind.
			logMu.Lock()
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			logMu.Unlock()
			debug := 0
			for i, line := range lines {
				blobs[fmt.Sprintf("log line %d", i+1)] = []byte(line)
				if strings.Contains(line, `"level":"DEBUG"`) {
					debug++
				}
			}
			items := scanTable(t, ctx, dynamodb.NewFromConfig(awsCfg), st.TableName, blobs)
			objects := scanBucket(t, ctx, s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = true }), st.BucketName, blobs)
			left := scanQueue(t, ctx, sqs.NewFromConfig(awsCfg), st.QueueURL, "queue", blobs) +
				scanQueue(t, ctx, sqs.NewFromConfig(awsCfg), st.DLQURL, "DLQ", blobs)
			if len(lines) < len(cf.Exercises) || items == 0 || objects == 0 {
				t.Fatalf("too little to scan: %d log lines, %d items, %d objects", len(lines), items, objects)
			}
			for _, leak := range cloudLeaks(tc.key, blobs) {
				t.Errorf("the API key leaks into %s", leak)
			}
			t.Logf("FIGURES %s: %d exercises, %d provider requests (all with the key, %d echoing it), ok %d, degraded %d; scanned %d log lines (%d debug), %d table items, %d S3 objects, %d messages delivered + %d left in queue/DLQ, 2 API responses: 0 leaks in %s",
				tc.name, len(cf.Exercises), len(reqs), sumValues(served), ok, degraded, len(lines), debug, items, objects, len(bodies), left, time.Since(start).Round(time.Millisecond))
		})
	}
}

func sumValues(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// drainQueue plays the SQS event source mapping for h until the queue stays empty:
// batches of up to 10 with their receive counts; successes deleted, failures made
// visible again at once. It returns every body delivered.
func drainQueue(t *testing.T, ctx context.Context, c *sqs.Client, queueURL string, h *cloud.Analyze) []string {
	t.Helper()
	var bodies []string
	for empty, batches := 0, 0; empty < 3 && batches < 100; {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &queueURL, MaxNumberOfMessages: 10,
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
		var ev events.SQSEvent
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: *m.MessageId, Body: *m.Body,
				Attributes: map[string]string{"ApproximateReceiveCount": m.Attributes["ApproximateReceiveCount"]}})
			bodies = append(bodies, *m.Body)
		}
		resp, _ := h.Handle(ctx, ev)
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		for _, m := range out.Messages {
			if failed[*m.MessageId] {
				_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &queueURL, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
			} else {
				_, err = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &queueURL, ReceiptHandle: m.ReceiptHandle})
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return bodies
}

// scanTable adds every item of the table to blobs (strings, numbers and binaries,
// gunzipped when compressed) and returns how many there were.
func scanTable(t *testing.T, ctx context.Context, db *dynamodb.Client, table string, blobs map[string][]byte) int {
	t.Helper()
	n := 0
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			var b bytes.Buffer
			avBytes(&b, &ddbtypes.AttributeValueMemberM{Value: it})
			pk, _ := it["PK"].(*ddbtypes.AttributeValueMemberS)
			sk, _ := it["SK"].(*ddbtypes.AttributeValueMemberS)
			name := fmt.Sprintf("item %d", n)
			if pk != nil && sk != nil {
				name = "item " + pk.Value + " " + sk.Value
			}
			blobs[name] = b.Bytes()
			n++
		}
	}
	return n
}

// avBytes writes every name and value of av to b, one per line.
func avBytes(b *bytes.Buffer, av ddbtypes.AttributeValue) {
	switch v := av.(type) {
	case *ddbtypes.AttributeValueMemberS:
		b.WriteString(v.Value + "\n")
	case *ddbtypes.AttributeValueMemberN:
		b.WriteString(v.Value + "\n")
	case *ddbtypes.AttributeValueMemberB:
		b.Write(gunzipped(v.Value))
		b.WriteByte('\n')
	case *ddbtypes.AttributeValueMemberSS:
		b.WriteString(strings.Join(v.Value, "\n") + "\n")
	case *ddbtypes.AttributeValueMemberNS:
		b.WriteString(strings.Join(v.Value, "\n") + "\n")
	case *ddbtypes.AttributeValueMemberBS:
		for _, x := range v.Value {
			b.Write(gunzipped(x))
			b.WriteByte('\n')
		}
	case *ddbtypes.AttributeValueMemberL:
		for _, x := range v.Value {
			avBytes(b, x)
		}
	case *ddbtypes.AttributeValueMemberM:
		names := make([]string, 0, len(v.Value))
		for k := range v.Value {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			b.WriteString(k + "\n")
			avBytes(b, v.Value[k])
		}
	}
}

// gunzipped returns data followed by its decompressed form when it is gzip'd (as much
// as decompresses, for a chunk of a larger stream).
func gunzipped(data []byte) []byte {
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return data
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return data
	}
	plain, _ := io.ReadAll(zr)
	return append(append(append([]byte(nil), data...), '\n'), plain...)
}

// scanBucket adds every object of the bucket to blobs and returns how many there were.
func scanBucket(t *testing.T, ctx context.Context, c *s3.Client, bucket string, blobs map[string][]byte) int {
	t.Helper()
	n := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(got.Body)
			got.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			blobs["object "+aws.ToString(o.Key)] = gunzipped(b)
			n++
		}
	}
	return n
}

// scanQueue adds every message left in the queue to blobs and returns how many there
// were.
func scanQueue(t *testing.T, ctx context.Context, c *sqs.Client, queueURL, name string, blobs map[string][]byte) int {
	t.Helper()
	n := 0
	for range 100 {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &queueURL, MaxNumberOfMessages: 10, VisibilityTimeout: 60})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			blobs[fmt.Sprintf("%s message %d", name, n)] = []byte(aws.ToString(m.Body))
			n++
		}
	}
	return n
}

// TestCloudLeakScannerFindsKeys proves the cloud scans see the key where the stores
// put it: nested in maps and lists of a DynamoDB item, in a gzip'd binary attribute or
// object, and as its last 8 characters alone.
func TestCloudLeakScannerFindsKeys(t *testing.T) {
	key := cloudLeakCases[1].key
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(`{"reason": "auth failed for ` + key + `"}`))
	zw.Close()
	item := func(av ddbtypes.AttributeValue) []byte {
		var b bytes.Buffer
		avBytes(&b, &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"x": av}})
		return b.Bytes()
	}
	tests := []struct {
		name string
		blob []byte
		want bool
	}{
		{"clean item", item(&ddbtypes.AttributeValueMemberS{Value: "[redacted]"}), false},
		{"nested list and map", item(&ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{
			&ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"r": &ddbtypes.AttributeValueMemberS{Value: "k=" + key}}}}}), true},
		{"string set", item(&ddbtypes.AttributeValueMemberSS{Value: []string{"a", key}}), true},
		{"gzip'd binary attribute", item(&ddbtypes.AttributeValueMemberB{Value: zipped.Bytes()}), true},
		{"gzip'd object", gunzipped(zipped.Bytes()), true},
		{"last 8 characters only", []byte("…" + key[len(key)-8:]), true},
		{"last 7 characters only", []byte("…" + key[len(key)-7:]), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cloudLeaks(key, map[string][]byte{"blob": tt.blob}); (len(got) > 0) != tt.want {
				t.Fatalf("found %v, want a leak: %v", got, tt.want)
			}
		})
	}
}
