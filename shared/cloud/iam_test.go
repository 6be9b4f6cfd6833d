package cloud_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/s3obj"
	"github.com/examina-dev/examina-serverless/shared/sqsq"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
	"github.com/examina-dev/examina-serverless/shared/testkit/template"
)

// calls records the IAM actions one role's clients need, as service:Action, with the
// S3 key prefix for object actions (s3:GetObject@input/).
type calls struct {
	mu  sync.Mutex
	set map[string]bool
}

func (c *calls) add(a string) { c.mu.Lock(); c.set[a] = true; c.mu.Unlock() }

func (c *calls) sorted() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for a := range c.set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func keyPrefix(key *string) string {
	k := aws.ToString(key)
	if i := strings.Index(k, "/"); i >= 0 {
		return "@" + k[:i+1]
	}
	return "@" + k
}

// record is an SDK middleware that maps every request, presigned ones included, to
// the IAM actions it needs.
func (c *calls) record(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("iam-record", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		svc, op := strings.ToLower(awsmiddleware.GetServiceID(ctx)), awsmiddleware.GetOperationName(ctx)
		switch p := in.Parameters.(type) {
		case *dynamodb.TransactWriteItemsInput: // IAM checks each item's action
			for _, it := range p.TransactItems {
				switch {
				case it.Put != nil:
					c.add("dynamodb:PutItem")
				case it.Update != nil:
					c.add("dynamodb:UpdateItem")
				case it.Delete != nil:
					c.add("dynamodb:DeleteItem")
				case it.ConditionCheck != nil:
					c.add("dynamodb:ConditionCheckItem")
				}
			}
		case *s3.GetObjectInput:
			c.add("s3:GetObject" + keyPrefix(p.Key))
			if p.VersionId != nil {
				c.add("s3:GetObjectVersion" + keyPrefix(p.Key))
			}
		case *s3.PutObjectInput:
			c.add("s3:PutObject" + keyPrefix(p.Key))
		case *sqs.SendMessageBatchInput:
			c.add("sqs:SendMessage")
		default:
			if svc == "sfn" {
				svc = "states" // the IAM prefix of Step Functions
			}
			c.add(svc + ":" + op)
		}
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

// granted reads the template's inline statements of a resource as the same strings.
func granted(t *testing.T, doc map[string]any, resource string) []string {
	t.Helper()
	r := doc["Resources"].(map[string]any)[resource].(map[string]any)
	pols, _ := r["Properties"].(map[string]any)["Policies"].([]any)
	set := map[string]bool{}
	for _, pol := range pols {
		m, ok := pol.(map[string]any)
		if !ok {
			continue
		}
		if _, ok := m["Fn::If"]; ok {
			continue // provider-dependent grants (keys, KMS, Bedrock) are not exercised here
		}
		if _, ok := m["StepFunctionsExecutionPolicy"]; ok {
			set["states:StartExecution"] = true
		}
		stmts, _ := m["Statement"].([]any)
		for _, s := range stmts {
			sm := s.(map[string]any)
			prefix := ""
			res, _ := sm["Resource"].(map[string]any)
			if sub, ok := res["Fn::Sub"].([]any); ok {
				tmpl := sub[0].(string)
				if i := strings.LastIndex(tmpl, "}/"); i >= 0 {
					prefix = "@" + strings.TrimSuffix(tmpl[i+2:], "*")
				}
			}
			for _, a := range sm["Action"].([]any) {
				action := fmt.Sprint(a)
				if strings.HasPrefix(action, "s3:") {
					action += prefix
				}
				set[action] = true
			}
		}
	}
	var out []string
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// TestRolesGrantWhatTheCodeCalls runs a job through dispatch (S3 upload, fan-out, GET
// inline and by result_url, an upload URL), analyze and merge on the emulator, each
// function with its own recording clients, and compares the IAM actions each made
// with what template.yaml grants its role: no call denied, no grant unused. The SQS
// poller's and the destination's grants, which SAM adds, are not the code's.
func TestRolesGrantWhatTheCodeCalls(t *testing.T) {
	s := newStack(t)
	roles := map[string]*calls{}
	cfgFor := func(role string) aws.Config {
		c := &calls{set: map[string]bool{}}
		roles[role] = c
		cfg := s.srv.AWSConfig(s.ctx)
		cfg.APIOptions = append(cfg.APIOptions, c.record)
		return cfg
	}
	dcfg, acfg, mcfg := cfgFor("DispatchFunction"), cfgFor("AnalyzeFunction"), cfgFor("MergeFunction")
	dstore := dynamo.New(mototest.NewSerialDynamoDB(dynamodb.NewFromConfig(dcfg), new(sync.Mutex)), s.st.TableName)
	dbucket := s3obj.New(s3.NewFromConfig(dcfg), s.st.BucketName)
	q := sqsq.New(sqs.NewFromConfig(dcfg), s.st.QueueURL)
	q.Clock = fakeClock{}
	d := &cloud.Dispatcher{Store: dstore, Cache: dstore, Objects: dbucket, Links: dbucket, Queue: q, Executions: sfn.NewFromConfig(dcfg),
		Bucket: s.st.BucketName, StateMachineARN: s.st.StateMachineArn, Provider: offline.ProviderName, Model: offline.ModelName}

	// Versioned, as the template's bucket is.
	if _, err := s.s3.PutBucketVersioning(s.ctx, &s3.PutBucketVersioningInput{Bucket: &s.st.BucketName,
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	key := "input/ADE/iam.json"
	if _, err := d.Handle(s.ctx, s.s3EventVersion(key, s.putVersion(key, small))); err != nil {
		t.Fatal(err)
	}
	id := s.executions()[0]
	exec := strings.Replace(s.st.StateMachineArn, ":stateMachine:", ":execution:", 1) + ":" + id
	token := s.fanOutToken(exec)
	fan, _ := json.Marshal(cloud.FanOutInput{Action: "fanout", JobID: id, TaskToken: token})
	if _, err := d.Handle(s.ctx, fan); err != nil {
		t.Fatal(err)
	}
	astore := dynamo.New(mototest.NewSerialDynamoDB(dynamodb.NewFromConfig(acfg), new(sync.Mutex)), s.st.TableName)
	h := &cloud.Analyze{Store: astore, Course: astore, Signaler: sfn.NewFromConfig(acfg), MaxReceives: 3,
		Analyzer: func(context.Context) (*pipeline.Analyzer, error) {
			return &pipeline.Analyzer{Provider: offline.New(), Policy: retry.Policy{MaxRetries: 1}, Clock: fakeClock{}}, nil
		}}
	// The requeue paths: a deferred exercise is re-sent delayed (sqs:SendMessage), a
	// transiently failed one made visible again after a short backoff
	// (sqs:ChangeMessageVisibility). Both come back and are analysed below.
	requeue := func(p examina.Provider, g pipeline.Gate) *cloud.Analyze {
		return &cloud.Analyze{Store: astore, Signaler: sfn.NewFromConfig(acfg), MaxReceives: 3,
			Requeue: sqs.NewFromConfig(acfg), QueueURL: s.st.QueueURL, MaxWait: time.Second,
			Analyzer: func(context.Context) (*pipeline.Analyzer, error) {
				return &pipeline.Analyzer{Provider: p, Gate: g, Policy: retry.Policy{MaxRetries: 0}, Clock: fakeClock{}}, nil
			}}
	}
	for _, step := range []struct {
		h        *cloud.Analyze
		failures int
	}{{requeue(offline.New(), deferGate{}), 0}, {requeue(transientProvider{}, nil), 1}} {
		msgs := s.receive(1)
		if len(msgs) != 1 {
			t.Fatalf("received %d messages", len(msgs))
		}
		resp, err := step.h.Handle(s.ctx, batch(msgs...))
		if err != nil || len(resp.BatchItemFailures) != step.failures {
			t.Fatalf("analyze (requeue): %v %v, want %d failure(s)", err, resp.BatchItemFailures, step.failures)
		}
		s.settle(msgs, resp)
	}
	var first events.SQSMessage
	for i := range 3 {
		msgs := s.receiveWithin(1, 20*time.Second)
		if i == 0 && len(msgs) == 1 {
			first = msgs[0]
		}
		if len(msgs) != 1 {
			t.Fatalf("received %d messages", len(msgs))
		}
		resp, err := h.Handle(s.ctx, batch(msgs...))
		if err != nil || len(resp.BatchItemFailures) > 0 {
			t.Fatalf("analyze: %v %v", err, resp.BatchItemFailures)
		}
		s.settle(msgs, resp)
	}
	// A duplicate delivery (SQS is at-least-once) and a message from a dispatcher
	// without cache decisions: the paths that read the job and the cache.
	var plain map[string]any
	_ = json.Unmarshal([]byte(first.Body), &plain)
	delete(plain, "cache_checked")
	delete(plain, "cached")
	body, _ := json.Marshal(plain)
	for _, m := range []events.SQSMessage{first, msg("dup", string(body), 2)} {
		if resp, err := h.Handle(s.ctx, batch(m)); err != nil || len(resp.BatchItemFailures) > 0 {
			t.Fatalf("analyze again: %v %v", err, resp.BatchItemFailures)
		}
	}
	mstore := dynamo.New(mototest.NewSerialDynamoDB(dynamodb.NewFromConfig(mcfg), new(sync.Mutex)), s.st.TableName)
	m := &cloud.Merger{Store: mstore, Objects: s3obj.New(s3.NewFromConfig(mcfg), s.st.BucketName)}
	if _, err := m.Merge(s.ctx, cloud.MergeInput{JobID: id}); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{0, 100} {
		d.MaxInlineBytes = limit
		if resp := d.HandleAPI(s.ctx, getRequest(id)); resp.StatusCode != 200 {
			t.Fatalf("GET = %d %s", resp.StatusCode, resp.Body)
		}
	}
	up := postRequest("ADE", "", "", "req-iam")
	up.RouteKey, up.RawPath = "$default", "/courses/ADE/uploads"
	if resp := d.HandleAPI(s.ctx, up); resp.StatusCode != 201 {
		t.Fatalf("POST uploads = %d %s", resp.StatusCode, resp.Body)
	}

	root, err := mototest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := template.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for role, c := range roles {
		used, grant := c.sorted(), granted(t, doc, role)
		if role == "AnalyzeFunction" {
			// The fan-out's failure path (SendTaskFailure) is not taken here; it is in
			// the same documented statement as SendTaskSuccess.
			used = append(used, "states:SendTaskFailure")
			sort.Strings(used)
		}
		if !slices.Equal(used, grant) {
			t.Errorf("%s: the code calls %v; template.yaml grants %v", role, used, grant)
		}
	}
}

// deferGate defers every call 2 s: longer than the handler's MaxWait of 1 s.
type deferGate struct{}

func (deferGate) Acquire(context.Context, int) error {
	return &pipeline.DeferError{Wait: 2 * time.Second, Reason: "test: the budget's next slot"}
}
func (deferGate) Release(examina.Response, error) {}

// transientProvider fails every call with a 503.
type transientProvider struct{}

func (transientProvider) Name() string  { return "transient" }
func (transientProvider) Model() string { return "m" }
func (transientProvider) Complete(context.Context, examina.Request) (examina.Response, error) {
	return examina.Response{}, &examina.ProviderError{Provider: "transient", Kind: examina.KindTransient, HTTPStatus: 503, Reason: "server_error"}
}
