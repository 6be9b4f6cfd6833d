package stack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/examina-dev/examina-serverless/shared/stack/lambdarie"
)

type fakeQueue struct {
	mu      sync.Mutex
	msgs    []sqstypes.Message
	deleted []string
}

func (q *fakeQueue) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(int(in.MaxNumberOfMessages), len(q.msgs))
	out := q.msgs[:n]
	q.msgs = q.msgs[n:]
	return &sqs.ReceiveMessageOutput{Messages: out}, nil
}

func (q *fakeQueue) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range in.Entries {
		q.deleted = append(q.deleted, aws.ToString(e.ReceiptHandle))
	}
	return &sqs.DeleteMessageBatchOutput{}, nil
}

type fakeFunction struct {
	payload  string
	fnErr    string
	err      error
	received []map[string]any
}

func (f *fakeFunction) invoke(ctx context.Context, function string, payload []byte) ([]byte, string, error) {
	var ev map[string]any
	_ = json.Unmarshal(payload, &ev)
	f.received = append(f.received, ev)
	return []byte(f.payload), f.fnErr, f.err
}

func messages(ids ...string) []sqstypes.Message {
	var out []sqstypes.Message
	for _, id := range ids {
		out = append(out, sqstypes.Message{MessageId: aws.String(id), ReceiptHandle: aws.String("rh-" + id), Body: aws.String("body " + id)})
	}
	return out
}

func TestPollerSettlesBatches(t *testing.T) {
	tests := []struct {
		name        string
		report      bool
		fn          fakeFunction
		wantDeleted []string
	}{
		{"success deletes the batch", false, fakeFunction{payload: "null"}, []string{"rh-a", "rh-b", "rh-c"}},
		{"reported failures stay", true, fakeFunction{payload: `{"batchItemFailures":[{"itemIdentifier":"b"}]}`}, []string{"rh-a", "rh-c"}},
		{"empty report deletes all", true, fakeFunction{payload: `{"batchItemFailures":[]}`}, []string{"rh-a", "rh-b", "rh-c"}},
		{"report ignored without ReportBatchItemFailures", false, fakeFunction{payload: `{"batchItemFailures":[{"itemIdentifier":"b"}]}`}, []string{"rh-a", "rh-b", "rh-c"}},
		{"unknown identifier fails the whole batch", true, fakeFunction{payload: `{"batchItemFailures":[{"itemIdentifier":"zz"}]}`}, nil},
		{"malformed report fails the whole batch", true, fakeFunction{payload: `{"batchItemFailures":`}, nil},
		{"function error returns the whole batch", true, fakeFunction{payload: `{"errorType":"X"}`, fnErr: "Unhandled"}, nil},
		{"invocation error returns the whole batch", true, fakeFunction{err: errors.New("connection refused")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := &fakeQueue{msgs: messages("a", "b", "c")}
			fn := tc.fn
			p := &Poller{Queue: q, Invoker: &fn, QueueURL: "q", QueueArn: "arn:aws:sqs:us-east-1:1:q", BatchSize: 10,
				MaxConcurrency: 1, ReportFailures: tc.report, Region: "us-east-1", Logger: slog.New(slog.DiscardHandler)}
			if !p.Poll(context.Background()) {
				t.Fatal("Poll received nothing")
			}
			if strings.Join(q.deleted, ",") != strings.Join(tc.wantDeleted, ",") {
				t.Errorf("deleted %v, want %v", q.deleted, tc.wantDeleted)
			}
			recs := fn.received[0]["Records"].([]any)
			if len(recs) != 3 || recs[0].(map[string]any)["eventSource"] != "aws:sqs" || recs[1].(map[string]any)["messageId"] != "b" {
				t.Errorf("event %v", fn.received[0])
			}
		})
	}
}

func TestPollerBatchSize(t *testing.T) {
	q := &fakeQueue{msgs: messages("a", "b", "c")}
	fn := &fakeFunction{payload: "null"}
	p := &Poller{Queue: q, Invoker: fn, BatchSize: 1, MaxConcurrency: 1, Logger: slog.New(slog.DiscardHandler)}
	for p.Poll(context.Background()) {
	}
	if len(fn.received) != 3 {
		t.Fatalf("%d invocations for 3 messages with BatchSize 1", len(fn.received))
	}
	for _, ev := range fn.received {
		if n := len(ev["Records"].([]any)); n != 1 {
			t.Errorf("batch of %d records, want 1", n)
		}
	}
}

func sign(t *testing.T, r *http.Request, body []byte, key, secret, service string, at time.Time) {
	t.Helper()
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), service, "us-east-1", at); err != nil {
		t.Fatal(err)
	}
}

func TestAPIFrontAuthorisation(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	fn := &fakeFunction{payload: `{"statusCode":202,"headers":{"content-type":"application/json"},"body":"{\"ok\":true}"}`}
	f := &APIFront{APIID: "api1", Invoker: fn, Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler),
		Secret: func(id string) (string, bool) { return "secret", id == "AKIDGOOD" }}
	if err := f.AddRoute("POST /courses/{course}/analyses", "arn:aws:lambda:us-east-1:1:function:d", true); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"course":{}}`)
	tests := []struct {
		name   string
		sign   func(r *http.Request)
		path   string
		status int
	}{
		{"signed", func(r *http.Request) { sign(t, r, body, "AKIDGOOD", "secret", "execute-api", now) }, "/courses/ADE/analyses", 202},
		{"unsigned", func(r *http.Request) {}, "/courses/ADE/analyses", 403},
		{"wrong secret", func(r *http.Request) { sign(t, r, body, "AKIDGOOD", "other", "execute-api", now) }, "/courses/ADE/analyses", 403},
		{"unknown key", func(r *http.Request) { sign(t, r, body, "AKIDBAD", "secret", "execute-api", now) }, "/courses/ADE/analyses", 403},
		{"wrong service", func(r *http.Request) { sign(t, r, body, "AKIDGOOD", "secret", "lambda", now) }, "/courses/ADE/analyses", 403},
		{"expired", func(r *http.Request) { sign(t, r, body, "AKIDGOOD", "secret", "execute-api", now.Add(-16*time.Minute)) }, "/courses/ADE/analyses", 403},
		{"tampered body", func(r *http.Request) {
			sign(t, r, []byte(`{"other":1}`), "AKIDGOOD", "secret", "execute-api", now)
			r.Header.Del("X-Amz-Content-Sha256")
		}, "/courses/ADE/analyses", 403},
		{"no route", func(r *http.Request) {}, "/nowhere", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9"+tc.path, bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			tc.sign(r)
			w := httptest.NewRecorder()
			f.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Errorf("status %d (%s), want %d", w.Code, w.Body, tc.status)
			}
		})
	}
	ev := fn.received[0]
	if ev["version"] != "2.0" || ev["routeKey"] != "POST /courses/{course}/analyses" || ev["body"] != string(body) ||
		ev["pathParameters"].(map[string]any)["course"] != "ADE" {
		t.Errorf("payload format 2.0 event %v", ev)
	}
	iam := ev["requestContext"].(map[string]any)["authorizer"].(map[string]any)["iam"].(map[string]any)
	if iam["accessKey"] != "AKIDGOOD" {
		t.Errorf("authorizer.iam %v", iam)
	}
}

func TestAPIFrontLimitsAndResponses(t *testing.T) {
	tests := []struct {
		name, payload, fnErr string
		body                 []byte
		status               int
		wantBody             string
	}{
		{"proxy response", `{"statusCode":400,"body":"{\"error\":\"x\"}"}`, "", nil, 400, `{"error":"x"}`},
		{"plain JSON is a 200", `{"a":1}`, "", nil, 200, `{"a":1}`},
		{"function error is a 500", `{"errorType":"X"}`, "Unhandled", nil, 500, `{"message":"Internal Server Error"}`},
		{"over 10 MB is a 413", `{}`, "", bytes.Repeat([]byte("x"), MaxRequestBody+1), 413, `{"message":"Request Entity Too Large"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &APIFront{Invoker: &fakeFunction{payload: tc.payload, fnErr: tc.fnErr}, Now: time.Now, Logger: slog.New(slog.DiscardHandler)}
			_ = f.AddRoute("$default", "fn", false)
			r := httptest.NewRequest(http.MethodPost, "http://h/x", bytes.NewReader(tc.body))
			w := httptest.NewRecorder()
			f.ServeHTTP(w, r)
			got, _ := io.ReadAll(w.Body)
			if w.Code != tc.status || strings.TrimSpace(string(got)) != tc.wantBody {
				t.Errorf("= %d %s, want %d %s", w.Code, got, tc.status, tc.wantBody)
			}
		})
	}
}

func TestIntegrationFunction(t *testing.T) {
	got, err := integrationFunction("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:f/invocations")
	if err != nil || got != "arn:aws:lambda:us-east-1:1:function:f" {
		t.Fatalf("= %q, %v", got, err)
	}
	if _, err := integrationFunction("http://example.com"); err == nil {
		t.Fatal("an HTTP integration was accepted")
	}
}

type scriptedRunner struct {
	mu    sync.Mutex
	fails int
	runs  int
}

func (r *scriptedRunner) Run(ctx context.Context, inv *Invocation) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs++
	if r.runs <= r.fails {
		return nil, &lambdarie.FunctionError{Type: "E", Message: "m", Payload: []byte(`{"errorType":"E","errorMessage":"m"}`)}
	}
	return []byte(`"ok"`), nil
}

func TestInvokerAsyncRetries(t *testing.T) {
	tests := []struct {
		name             string
		fails, wantRuns  int
		wantWaits        []time.Duration
		wantStatus       int
		invocationType   string
		wantFunctionErr  string
		wantPayloadInRes string
	}{
		{"async success runs once", 0, 1, nil, 200, "Event", "", ""},
		{"async retried twice after 1 and 2 minutes", 5, 3, []time.Duration{time.Minute, 2 * time.Minute}, 200, "Event", "", ""},
		{"async second attempt succeeds", 1, 2, []time.Duration{time.Minute}, 200, "Event", "", ""},
		{"sync error is reported, not retried", 5, 1, nil, 200, "RequestResponse", "Unhandled", "errorType"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runner := &scriptedRunner{fails: tc.fails}
			var mu sync.Mutex
			var waits []time.Duration
			v := &Invoker{Runner: runner, Logger: slog.New(slog.DiscardHandler), After: func(d time.Duration) <-chan time.Time {
				mu.Lock()
				waits = append(waits, d)
				mu.Unlock()
				c := make(chan time.Time, 1)
				c <- time.Time{}
				return c
			}}
			doc, _ := json.Marshal(map[string]any{"FunctionName": "f", "InvocationType": tc.invocationType, "Payload": "{}", "Environment": map[string]any{"N": 3}})
			w := httptest.NewRecorder()
			v.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/invoke", bytes.NewReader(doc)))
			v.Wait()
			var res InvocationResult
			_ = json.Unmarshal(w.Body.Bytes(), &res)
			if w.Code != tc.wantStatus || res.FunctionError != tc.wantFunctionErr || !strings.Contains(res.Payload, tc.wantPayloadInRes) {
				t.Errorf("answer %d %+v", w.Code, res)
			}
			if runner.runs != tc.wantRuns || len(waits) != len(tc.wantWaits) {
				t.Fatalf("runs %d waits %v, want %d %v", runner.runs, waits, tc.wantRuns, tc.wantWaits)
			}
			for i := range waits {
				if waits[i] != tc.wantWaits[i] {
					t.Errorf("wait %d = %s, want %s", i, waits[i], tc.wantWaits[i])
				}
			}
		})
	}
}

// FuzzAuthorize feeds the API front arbitrary Authorization and X-Amz-Date
// headers: it never panics and never lets a request through without the secret.
func FuzzAuthorize(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDGOOD/20261201/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20261201T100000Z")
	f.Add("AWS4-HMAC-SHA256 Credential=/, SignedHeaders=, Signature=", "")
	f.Add("Basic dXNlcjpwYXNz", "x")
	f.Add("AWS4-HMAC-SHA256 ,,,===", "20261201T100000Z")
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	fr := &APIFront{Now: func() time.Time { return now }, Secret: func(id string) (string, bool) { return "secret", id == "AKIDGOOD" }}
	f.Fuzz(func(t *testing.T, auth, date string) {
		r := httptest.NewRequest(http.MethodGet, "http://h/analyses/x", nil)
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		c, status, _ := fr.authorize(r, nil)
		if status == 0 || c != nil {
			t.Fatalf("authorised %q without a valid signature", auth)
		}
	})
}
