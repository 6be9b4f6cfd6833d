package cloud_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/sqsq"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
)

func exampleFile(t *testing.T, name string) []byte {
	t.Helper()
	root, err := mototest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

const small = `{"course": {"code": "ADE", "name": "Architettura", "language": "it"}, "exercises": [
 {"id": "a", "text": "Convertire 42 in binario."},
 {"id": "b", "text": "Progettare un automa di Moore che riconosce 1011."},
 {"id": "c", "text": "Continuazione: minimizzare l'automa."}]}`

func TestDispatchS3(t *testing.T) {
	s := newStack(t)
	d := s.dispatcher()

	// A valid file with a key that needs decoding.
	key := "input/ADE/prova d'esame+1.json"
	s.put(key, []byte(small))
	if _, err := d.Handle(s.ctx, s.s3Event(key, "etag-1")); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.store.ListJobs(s.ctx)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs = %d, %v; want 1", len(jobs), err)
	}
	job := jobs[0]
	if !cloud.ValidJobID(job.ID) || !strings.HasPrefix(job.ID, "ade-") || job.Status != examina.JobPending || job.Total != 3 ||
		job.Source != "s3://"+s.st.BucketName+"/"+key {
		t.Fatalf("job = %+v", job)
	}
	exs, err := s.store.Exercises(s.ctx, job.ID)
	if err != nil || len(exs) != 3 || exs[1].ID != "b" || exs[2].Position != 2 {
		t.Fatalf("exercises = %+v, %v", exs, err)
	}
	if got := s.executions(); !slices.Equal(got, []string{job.ID}) {
		t.Fatalf("executions = %v, want [%s]", got, job.ID)
	}

	// The same event again: same job, no error, still one execution.
	if _, err := d.Handle(s.ctx, s.s3Event(key, "etag-1")); err != nil {
		t.Fatalf("duplicate event: %v", err)
	}
	if jobs, _ := s.store.ListJobs(s.ctx); len(jobs) != 1 {
		t.Fatalf("duplicate event made %d jobs", len(jobs))
	}
	if got := s.executions(); len(got) != 1 {
		t.Fatalf("duplicate event: executions = %v", got)
	}

	// An invalid file: a rejected job with the problems, no exercises, no execution.
	bad := "input/ADE/bad.json"
	s.put(bad, []byte(`{"course": {"code": "ADE"}, "exercises": [{"id": "x", "text": ""}]}`))
	if _, err := d.Handle(s.ctx, s.s3Event(bad, "etag-2")); err != nil {
		t.Fatal(err)
	}
	jobs, _ = s.store.ListJobs(s.ctx)
	var rejected examina.Job
	for _, j := range jobs {
		if j.Status == examina.JobRejected {
			rejected = j
		}
	}
	if rejected.ID == "" || len(rejected.Problems) == 0 || len(jobs) != 2 {
		t.Fatalf("jobs after an invalid file = %+v", jobs)
	}
	if exs, _ := s.store.Exercises(s.ctx, rejected.ID); len(exs) != 0 {
		t.Fatalf("a rejected job has %d exercise items", len(exs))
	}
	if got := s.executions(); len(got) != 1 {
		t.Fatalf("an invalid file started an execution: %v", got)
	}
	// Readable through the API.
	resp := d.HandleAPI(s.ctx, getRequest(rejected.ID))
	var view cloud.JobView
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &view) != nil || view.Status != examina.JobRejected || len(view.Problems) == 0 {
		t.Fatalf("GET rejected job = %d %s", resp.StatusCode, resp.Body)
	}

	// JSONL: the course comes from the path segment.
	jl := "input/ADE/ade.jsonl"
	s.put(jl, exampleFile(t, "ade.jsonl"))
	if _, err := d.Handle(s.ctx, s.s3Event(jl, "etag-3")); err != nil {
		t.Fatal(err)
	}
	if got := s.executions(); len(got) != 2 {
		t.Fatalf("JSONL upload: executions = %v, want 2", got)
	}

	// Not course files, and objects of another bucket: ignored.
	for _, k := range []string{"results/ADE/x.json", "input/ADE/notes.txt"} {
		s.put(k, []byte(small))
		if _, err := d.Handle(s.ctx, s.s3Event(k, "e")); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if jobs, _ := s.store.ListJobs(s.ctx); len(jobs) != 3 {
		t.Fatalf("ignored keys made jobs: %d", len(jobs))
	}

	// A missing object is not an error (deleted before dispatch); an unknown event is.
	if _, err := d.Handle(s.ctx, s.s3Event("input/ADE/gone.json", "e")); err != nil {
		t.Errorf("vanished object: %v", err)
	}
	var iie *cloud.InvalidInputError
	if _, err := d.Handle(s.ctx, json.RawMessage(`{"hello": 1}`)); !errors.As(err, &iie) {
		t.Errorf("unknown event: %v, want *InvalidInputError", err)
	}
}

func postRequest(code, body, contentType, requestID string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{RouteKey: cloud.RoutePost, RawPath: "/courses/" + code + "/analyses",
		PathParameters: map[string]string{"course": code}, Body: body,
		Headers: map[string]string{"content-type": contentType}}
	req.RequestContext.HTTP.Method = http.MethodPost
	req.RequestContext.RequestID = requestID
	return req
}

func getRequest(id string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{RawPath: "/analyses/" + id, RouteKey: "$default"}
	req.RequestContext.HTTP.Method = http.MethodGet
	return req
}

func TestDispatchAPI(t *testing.T) {
	s := newStack(t)
	d := s.dispatcher()
	d.Limits = course.Limits{MaxFileBytes: 64 << 10}

	resp := d.HandleAPI(s.ctx, postRequest("ADE", small, "application/json", "req-1"))
	var acc cloud.Accepted
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal([]byte(resp.Body), &acc) != nil || !cloud.ValidJobID(acc.JobID) ||
		acc.Status != examina.JobPending || acc.Links["self"] != "/analyses/"+acc.JobID || resp.Headers["Location"] == "" {
		t.Fatalf("POST = %d %s", resp.StatusCode, resp.Body)
	}
	// A retry with the same Idempotency-Key maps to the same job; another request id
	// without a key is a new job.
	withKey := postRequest("ADE", small, "application/json", "req-2")
	withKey.Headers["Idempotency-Key"] = "k1"
	first := d.HandleAPI(s.ctx, withKey)
	withKey.RequestContext.RequestID = "req-3"
	second := d.HandleAPI(s.ctx, withKey)
	var a1, a2 cloud.Accepted
	_ = json.Unmarshal([]byte(first.Body), &a1)
	_ = json.Unmarshal([]byte(second.Body), &a2)
	if first.StatusCode != 202 || second.StatusCode != 202 || a1.JobID != a2.JobID || a1.JobID == acc.JobID {
		t.Fatalf("idempotency: %s / %s / %s", acc.JobID, a1.JobID, a2.JobID)
	}
	if got := s.executions(); len(got) != 2 {
		t.Fatalf("executions = %v, want 2", got)
	}

	// JSONL body, base64 encoded, course from the path.
	jl := postRequest("ADE", base64.StdEncoding.EncodeToString(exampleFile(t, "ade.jsonl")), "application/x-ndjson", "req-4")
	jl.IsBase64Encoded = true
	if resp := d.HandleAPI(s.ctx, jl); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST JSONL = %d %s", resp.StatusCode, resp.Body)
	}

	tests := []struct {
		name     string
		req      events.APIGatewayV2HTTPRequest
		status   int
		problems bool
	}{
		{"invalid file", postRequest("ADE", `{"course": {"code": "ADE"}, "exercises": []}`, "application/json", "r"), 400, true},
		{"not JSON", postRequest("ADE", `{"course": `, "application/json", "r"), 400, true},
		{"course mismatch", postRequest("XYZ", small, "application/json", "r"), 400, true},
		{"too large", postRequest("ADE", strings.Repeat(" ", 65<<10)+small, "application/json", "r"), 413, true},
		{"malformed id", getRequest("Not_An-Id"), 400, false},
		{"unknown job", getRequest("ade-0123456789ab"), 404, false},
		{"unknown route", func() events.APIGatewayV2HTTPRequest { r := getRequest("x"); r.RawPath = "/nope"; return r }(), 404, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := d.HandleAPI(s.ctx, tc.req)
			var body cloud.ErrorBody
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || resp.StatusCode != tc.status || body.Error == "" ||
				(len(body.Problems) > 0) != tc.problems || resp.Headers["Content-Type"] != "application/json" {
				t.Fatalf("= %d %s; want %d (problems %v)", resp.StatusCode, resp.Body, tc.status, tc.problems)
			}
		})
	}
	if got := s.executions(); len(got) != 3 {
		t.Fatalf("rejected requests started executions: %v", got)
	}

	// GET of a pending job: 200 with progress, no result.
	resp = d.HandleAPI(s.ctx, getRequest(acc.JobID))
	var view cloud.JobView
	if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &view) != nil || view.Status != examina.JobPending ||
		view.Total != 3 || view.Result != nil {
		t.Fatalf("GET = %d %s", resp.StatusCode, resp.Body)
	}
	// Through Handle, as Lambda delivers it.
	raw, _ := json.Marshal(getRequest(acc.JobID))
	out, err := d.Handle(s.ctx, raw)
	if r, ok := out.(events.APIGatewayV2HTTPResponse); err != nil || !ok || r.StatusCode != 200 {
		t.Fatalf("Handle(GET) = %#v, %v", out, err)
	}
}

func TestFanOut(t *testing.T) {
	s := newStack(t)
	d := s.dispatcher()
	cf, err := course.Parse(exampleFile(t, "ade.json"), "ade.json", course.Options{})
	if err != nil {
		t.Fatal(err)
	}
	job := examina.Job{ID: "ade-00000000f00d", Course: cf.Course, Status: examina.JobPending, Total: len(cf.Exercises)}
	if _, err := s.store.CreateJob(s.ctx, job, cf.Exercises); err != nil {
		t.Fatal(err)
	}
	// The first call leaves two entries failed: they must be sent again.
	flaky := &partialSQS{api: s.sqs, fail: 2}
	q := sqsq.New(flaky, s.st.QueueURL)
	q.Clock = fakeClock{}
	d.Queue = q
	if _, err := d.Handle(s.ctx, json.RawMessage(`{"action": "fanout", "job_id": "ade-00000000f00d", "task_token": "tok-1"}`)); err != nil {
		t.Fatal(err)
	}
	if flaky.retried == 0 {
		t.Fatal("no entry was retried")
	}
	got := map[int]cloud.Task{}
	for {
		msgs := s.receive(10)
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			task, err := cloud.ParseTask(m.Body)
			if err != nil {
				t.Fatal(err)
			}
			if _, dup := got[task.Position]; dup {
				t.Fatalf("position %d sent twice", task.Position)
			}
			got[task.Position] = task
		}
		s.settle(msgs, events.SQSEventResponse{})
	}
	if len(got) != len(cf.Exercises) {
		t.Fatalf("%d messages, want %d", len(got), len(cf.Exercises))
	}
	for i, ex := range cf.Exercises {
		task := got[i]
		if task.JobID != job.ID || task.Total != len(cf.Exercises) || task.Exercise.ID != ex.ID || task.Previous != cf.Previous(i) || task.Course != cf.Course {
			t.Fatalf("message %d = %+v", i, task)
		}
	}
	j, _ := s.store.GetJob(s.ctx, job.ID)
	if j.Status != examina.JobRunning {
		t.Fatalf("job status after fan-out = %s", j.Status)
	}
	var iie *cloud.InvalidInputError
	if _, err := d.Handle(s.ctx, json.RawMessage(`{"action": "fanout", "job_id": "ade-0000000000aa", "task_token": "t"}`)); !errors.As(err, &iie) {
		t.Fatalf("fan-out of an unknown job: %v, want *InvalidInputError", err)
	}
}

// partialSQS fails the first `fail` entries it sees (server side), once each.
type partialSQS struct {
	api     *sqs.Client
	fail    int
	retried int
	failed  map[string]bool
}

func (p *partialSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	if p.failed == nil {
		p.failed = map[string]bool{}
	}
	var keep []sqstypes.SendMessageBatchRequestEntry
	var failed []sqstypes.BatchResultErrorEntry
	for _, e := range in.Entries {
		id := aws.ToString(e.Id)
		if p.failed[id] {
			p.retried++
		}
		if p.fail > 0 && !p.failed[id] {
			p.fail--
			p.failed[id] = true
			failed = append(failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("injected")})
			continue
		}
		keep = append(keep, e)
	}
	out, err := p.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: in.QueueUrl, Entries: keep}, opts...)
	if err != nil {
		return nil, err
	}
	out.Failed = append(out.Failed, failed...)
	return out, nil
}
