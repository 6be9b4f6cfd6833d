package cloud_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/examina-dev/examina-serverless/shared/cloud"
)

// s3EventVersion is s3Event for one version of the object.
func (s *stack) s3EventVersion(key, version string) json.RawMessage {
	var ev map[string]any
	_ = json.Unmarshal(s.s3Event(key, "etag-"+version), &ev)
	ev["Records"].([]any)[0].(map[string]any)["s3"].(map[string]any)["object"].(map[string]any)["versionId"] = version
	b, _ := json.Marshal(ev)
	return b
}

// putVersion writes data at key and returns the new version's id.
func (s *stack) putVersion(key, data string) string {
	s.t.Helper()
	out, err := s.s3.PutObject(s.ctx, &s3.PutObjectInput{Bucket: &s.st.BucketName, Key: &key, Body: strings.NewReader(data)})
	if err != nil {
		s.t.Fatal(err)
	}
	return aws.ToString(out.VersionId)
}

// TestDispatchReadsTheEventsVersion: two quick uploads to one key are two events, each
// naming its version; each dispatch reads its own version, not the newest.
func TestDispatchReadsTheEventsVersion(t *testing.T) {
	s := newStack(t)
	if _, err := s.s3.PutBucketVersioning(s.ctx, &s3.PutBucketVersioningInput{Bucket: &s.st.BucketName,
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	d := s.dispatcher()
	key := "input/ADE/appello.json"
	first := s.putVersion(key, small)
	second := s.putVersion(key, strings.Replace(small, `{"id": "c", "text": "Continuazione: minimizzare l'automa."}`,
		`{"id": "c", "text": "Continuazione: minimizzare l'automa."}, {"id": "d", "text": "Quarto esercizio."}`, 1))
	if first == "" || first == second {
		t.Fatalf("versions %q %q", first, second)
	}
	totals := map[int]bool{}
	for _, v := range []string{first, second} {
		if _, err := d.Handle(s.ctx, s.s3EventVersion(key, v)); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := s.store.ListJobs(s.ctx)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("jobs = %d, %v; want one per version", len(jobs), err)
	}
	for _, j := range jobs {
		totals[j.Total] = true
	}
	if !totals[3] || !totals[4] {
		t.Errorf("job totals %v, want the first version's 3 and the second's 4 exercises", totals)
	}
}

// TestReplayFailedDispatch: an S3 event whose asynchronous dispatch failed every
// attempt lands, as a destination record, in the dispatch DLQ; with the replay
// mapping enabled dispatch receives it as an SQS event and dispatches it again.
func TestReplayFailedDispatch(t *testing.T) {
	s := newStack(t)
	d := s.dispatcher()
	key := "input/ADE/lost.json"
	s.put(key, []byte(small))
	record := map[string]any{
		"version": "1.0", "timestamp": "2026-12-01T10:00:00.000Z",
		"requestContext": map[string]any{"requestId": "r-1", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:dispatch:$LATEST",
			"condition": "RetriesExhausted", "approximateInvokeCount": 3},
		"requestPayload":  s.s3Event(key, "etag-lost"),
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"responsePayload": map[string]any{"errorMessage": "throttled", "errorType": "wrapError"},
	}
	body, _ := json.Marshal(record)
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", Body: string(body), EventSource: "aws:sqs"},
		{MessageId: "m2", Body: `{"not":"a destination record"}`, EventSource: "aws:sqs"},
	}}
	raw, _ := json.Marshal(ev)
	out, err := d.Handle(s.ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if resp, ok := out.(events.SQSEventResponse); !ok || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle(SQS) = %#v", out)
	}
	job := cloud.JobID("ADE", s.st.BucketName+"/"+key+"/etag-lost")
	if j, err := s.store.GetJob(s.ctx, job); err != nil || j.Total != 3 {
		t.Fatalf("replayed job %s: %+v, %v", job, j, err)
	}
	if got := s.executions(); len(got) != 1 || got[0] != job {
		t.Errorf("executions = %v", got)
	}
	// Replaying again is a no-op (same job).
	if _, err := d.Handle(s.ctx, raw); err != nil {
		t.Fatal(err)
	}
	if got := s.executions(); len(got) != 1 {
		t.Errorf("second replay: executions = %v", got)
	}
}
