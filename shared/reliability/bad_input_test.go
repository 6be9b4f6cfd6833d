package reliability

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/s3obj"
)

// apiLimits are small so the fuzzer reaches every limit.
var apiLimits = course.Limits{MaxFileBytes: 4096, MaxExercises: 8, MaxExerciseChars: 200}

// completedJob is a job of course ADE whose result document is stored, so GET can
// answer 200 with a result.
const completedJob = "ade-0123456789ab"

type apiFixture struct {
	d     *cloud.Dispatcher
	jobs  *memJobs
	objs  *memObjects
	execs *memExecutions
}

func newAPIFixture() *apiFixture {
	fx := &apiFixture{jobs: newMemJobs(), objs: newMemObjects(), execs: &memExecutions{}}
	fx.d = &cloud.Dispatcher{Store: fx.jobs, Objects: fx.objs, Queue: &memQueue{}, Executions: fx.execs,
		Bucket: "bucket", StateMachineARN: "arn:aws:states:us-east-1:123456789012:stateMachine:analysis",
		Provider: "simulated", Model: "simulated-v1", Limits: apiLimits,
		Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }}
	ade := examina.Course{Code: "ADE", Name: "Architettura", Language: "it"}
	fx.jobs.CreateJob(context.Background(), examina.Job{ID: completedJob, Course: ade, Status: examina.JobRunning, Total: 1},
		[]examina.Exercise{{ID: "e1", Text: "secret exercise text of ADE"}})
	key := cloud.ResultKey("results/", "ADE", completedJob)
	fx.objs.PutJSON(context.Background(), key, examina.Result{JobID: completedJob, Course: ade})
	fx.jobs.complete(completedJob, key)
	return fx
}

// apiRequest builds an HTTP API v2 request. With routeKey the request carries the
// route key and path parameters API Gateway would set; without, only the raw path (a
// $default route).
func apiRequest(method, path, contentType, body string, b64 bool, idem string, routeKey bool) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{RawPath: path, RouteKey: "$default", Body: body, IsBase64Encoded: b64,
		Headers: map[string]string{}}
	req.RequestContext.HTTP.Method = method
	req.RequestContext.HTTP.Path = path
	req.RequestContext.RequestID = "req-" + fmt.Sprint(len(body))
	if contentType != "" {
		req.Headers["content-type"] = contentType
	}
	if idem != "" {
		req.Headers["Idempotency-Key"] = idem
	}
	if routeKey {
		parts := strings.Split(strings.Trim(path, "/"), "/")
		switch {
		case len(parts) == 3 && parts[0] == "courses" && parts[2] == "analyses":
			req.RouteKey, req.PathParameters = cloud.RoutePost, map[string]string{"course": parts[1]}
		case len(parts) == 2 && parts[0] == "analyses":
			req.RouteKey, req.PathParameters = cloud.RouteGet, map[string]string{"job": parts[1]}
		}
	}
	return req
}

// checkAPIResponse asserts what holds for any request: a known status, a JSON body of
// the status's shape, no server error (the fakes never fail), 413 exactly for
// oversized POST bodies, and 202 only with a recorded, started, well-formed job of the
// path's course.
func checkAPIResponse(t *testing.T, fx *apiFixture, req events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	if resp.Headers["Content-Type"] != "application/json" {
		t.Fatalf("content type %q", resp.Headers["Content-Type"])
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &obj); err != nil {
		t.Fatalf("status %d with a body that is not a JSON object: %q", resp.StatusCode, resp.Body)
	}
	body := []byte(req.Body)
	sized := true // the body's decoded size is known
	if req.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(req.Body)
		body, sized = b, err == nil
	}
	post := req.RouteKey == cloud.RoutePost
	switch resp.StatusCode {
	case http.StatusAccepted:
		var acc cloud.Accepted
		if err := json.Unmarshal([]byte(resp.Body), &acc); err != nil || !cloud.ValidJobID(acc.JobID) {
			t.Fatalf("202 with body %q", resp.Body)
		}
		if resp.Headers["Location"] != "/analyses/"+acc.JobID {
			t.Fatalf("202 with Location %q for job %s", resp.Headers["Location"], acc.JobID)
		}
		job, err := fx.jobs.GetJob(context.Background(), acc.JobID)
		if err != nil {
			t.Fatalf("202 for job %s, which was not recorded: %v", acc.JobID, err)
		}
		exs, _ := fx.jobs.Exercises(context.Background(), acc.JobID)
		if job.Total == 0 || job.Total != len(exs) || job.Total > apiLimits.MaxExercises {
			t.Fatalf("accepted job with total %d and %d exercises", job.Total, len(exs))
		}
		if fx.execs.input[acc.JobID] == "" {
			t.Fatalf("202 for job %s without an execution", acc.JobID)
		}
		if !strings.HasPrefix(acc.JobID, cloud.CourseSlug(job.Course.Code)+"-") {
			t.Fatalf("job id %s does not name its course %q", acc.JobID, job.Course.Code)
		}
		if post && !strings.EqualFold(job.Course.Code, req.PathParameters["course"]) {
			t.Fatalf("POST to course %q accepted a job of course %q", req.PathParameters["course"], job.Course.Code)
		}
		if int64(len(body)) > apiLimits.MaxFileBytes {
			t.Fatalf("accepted a %d-byte body over the %d-byte limit", len(body), apiLimits.MaxFileBytes)
		}
	case http.StatusOK:
		var v cloud.JobView
		if err := json.Unmarshal([]byte(resp.Body), &v); err != nil || !cloud.ValidJobID(v.JobID) {
			t.Fatalf("200 with body %q", resp.Body)
		}
		if v.Result != nil && v.Result.JobID != v.JobID {
			t.Fatalf("job %s answered with the result of job %s", v.JobID, v.Result.JobID)
		}
		if id := req.PathParameters["job"]; req.RouteKey == cloud.RouteGet && id != v.JobID {
			t.Fatalf("GET %s answered job %s", id, v.JobID)
		}
		if strings.Contains(resp.Body, "secret exercise text") {
			t.Fatalf("GET leaked an exercise input: %s", resp.Body)
		}
	case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
		var e cloud.ErrorBody
		if err := json.Unmarshal([]byte(resp.Body), &e); err != nil || e.Error == "" {
			t.Fatalf("%d with body %q", resp.StatusCode, resp.Body)
		}
		if resp.StatusCode == http.StatusRequestEntityTooLarge && sized && int64(len(body)) <= apiLimits.MaxFileBytes {
			t.Fatalf("413 for a %d-byte body", len(body))
		}
	default:
		t.Fatalf("unexpected status %d: %s", resp.StatusCode, resp.Body)
	}
	// Invalid base64 has no decoded size: 400 says so, whatever its length.
	if post && sized && req.RequestContext.HTTP.Method == http.MethodPost && int64(len(body)) > apiLimits.MaxFileBytes && resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a %d-byte body got %d, want 413", len(body), resp.StatusCode)
	}
	if req.RouteKey == cloud.RouteGet && req.RequestContext.HTTP.Method == http.MethodGet {
		id := req.PathParameters["job"]
		_, known := fx.jobs.jobs[id]
		want := map[bool]int{true: http.StatusNotFound, false: http.StatusBadRequest}[cloud.ValidJobID(id)]
		if known {
			want = http.StatusOK
		}
		if resp.StatusCode != want {
			t.Fatalf("GET /analyses/%q: %d, want %d", id, resp.StatusCode, want)
		}
	}
}

const adeCourse = `{"course": {"code": "ADE", "name": "Architettura", "language": "it"}, "exercises": [{"text": "Minimise f with a Karnaugh map."}, {"text": "b) Implement it with NAND gates."}]}`

// FuzzAPIRequest feeds the HTTP API arbitrary methods, paths (path parameters),
// content types, bodies (raw and base64) and idempotency keys, with and without the
// route key API Gateway sets, and checks checkAPIResponse's invariants.
func FuzzAPIRequest(f *testing.F) {
	f.Add("POST", "/courses/ADE/analyses", "application/json", adeCourse, false, "", true)
	f.Add("POST", "/courses/ade/analyses", "application/json; charset=utf-8", base64.StdEncoding.EncodeToString([]byte(adeCourse)), true, "k1", true)
	f.Add("POST", "/courses/ADE/analyses", "application/x-ndjson", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n", false, "", true)
	f.Add("POST", "/courses/XYZ/analyses", "application/json", adeCourse, false, "", true)
	f.Add("POST", "/courses/ADE/analyses", "text/plain", strings.Repeat("x", 5000), false, "", true)
	f.Add("POST", "/courses/ADE/analyses", "", "%%%not base64", true, "", false)
	f.Add("GET", "/analyses/"+completedJob, "", "", false, "", true)
	f.Add("GET", "/analyses/ade-ffffffffffff", "", "", false, "", true)
	f.Add("GET", "/analyses/../../etc/passwd", "", "", false, "", false)
	f.Add("GET", "/prod/courses/XYZ/analyses/"+completedJob, "", "", false, "", false)
	f.Add("DELETE", "/analyses/"+completedJob, "", "", false, "", true)
	f.Add("GET", "/analyses/ADE-0123456789AB", "", "", false, "", true)
	f.Fuzz(func(t *testing.T, method, path, contentType, body string, b64 bool, idem string, routeKey bool) {
		fx := newAPIFixture()
		req := apiRequest(method, path, contentType, body, b64, idem, routeKey)
		resp := fx.d.HandleAPI(context.Background(), req)
		checkAPIResponse(t, fx, req, resp)
		// The same request again (a client retry) gives the same answer.
		if idem != "" {
			again := fx.d.HandleAPI(context.Background(), req)
			if again.StatusCode != resp.StatusCode || (resp.StatusCode == http.StatusAccepted && again.Body != resp.Body) {
				t.Fatalf("retried request: %d %s, first %d %s", again.StatusCode, again.Body, resp.StatusCode, resp.Body)
			}
		}
	})
}

// TestAPIContract pins the API's answers to bad and cross-course requests. The promise:
// a job id is the only handle on a job; GET answers for that job alone (its course is
// the id's prefix), whatever path it came through; an id is unguessable (48 bits of a
// hash over the body and the request id or idempotency key); a body naming another
// course than the path is refused.
func TestAPIContract(t *testing.T) {
	fx := newAPIFixture()
	ctx := context.Background()
	post := func(code, body, idem string) events.APIGatewayV2HTTPResponse {
		req := apiRequest(http.MethodPost, "/courses/"+code+"/analyses", "application/json", body, false, idem, true)
		return fx.d.HandleAPI(ctx, req)
	}
	get := func(path string, routeKey bool) events.APIGatewayV2HTTPResponse {
		return fx.d.HandleAPI(ctx, apiRequest(http.MethodGet, path, "", "", false, "", routeKey))
	}
	accepted := func(resp events.APIGatewayV2HTTPResponse) string {
		t.Helper()
		var acc cloud.Accepted
		if resp.StatusCode != http.StatusAccepted || json.Unmarshal([]byte(resp.Body), &acc) != nil {
			t.Fatalf("POST: %d %s", resp.StatusCode, resp.Body)
		}
		return acc.JobID
	}
	xyzCourse := strings.ReplaceAll(adeCourse, `"ADE"`, `"XYZ"`)
	jobA := accepted(post("ADE", adeCourse, "same-key"))
	jobB := accepted(post("XYZ", xyzCourse, "same-key"))
	if jobA == jobB || !strings.HasPrefix(jobA, "ade-") || !strings.HasPrefix(jobB, "xyz-") {
		t.Fatalf("job ids %s and %s", jobA, jobB)
	}
	if again := accepted(post("ADE", adeCourse, "same-key")); again != jobA {
		t.Errorf("the same idempotency key gave %s then %s", jobA, again)
	}
	if other := accepted(post("ADE", adeCourse, "")); other == jobA {
		t.Errorf("a request without an idempotency key reused job %s", jobA)
	}

	tests := []struct {
		name     string
		resp     events.APIGatewayV2HTTPResponse
		want     int
		wantJob  string
		wantCode string
	}{
		{"oversized body", post("ADE", strings.Repeat(" ", int(apiLimits.MaxFileBytes)+1), ""), http.StatusRequestEntityTooLarge, "", ""},
		{"body of another course", post("XYZ", adeCourse, ""), http.StatusBadRequest, "", ""},
		{"not a course file", post("ADE", `{"hello": "world"}`, ""), http.StatusBadRequest, "", ""},
		{"unknown job", get("/analyses/ade-ffffffffffff", true), http.StatusNotFound, "", ""},
		{"malformed job id", get("/analyses/ADE-0123", true), http.StatusBadRequest, "", ""},
		{"path traversal", get("/analyses/..%2F..%2Fetc", true), http.StatusBadRequest, "", ""},
		{"own job", get("/analyses/"+jobA, true), http.StatusOK, jobA, "ADE"},
		{"other course's job", get("/analyses/"+jobB, true), http.StatusOK, jobB, "XYZ"},
		// Course A's hash under course B's slug is not course A's job.
		{"A's hash under B's slug", get("/analyses/xyz-"+strings.TrimPrefix(jobA, "ade-"), true), http.StatusNotFound, "", ""},
		// Through a $default route and a path naming course XYZ, the answer is still
		// only job A's, never XYZ's data.
		{"A's job through B's path", get("/courses/XYZ/analyses/"+jobA, false), -1, jobA, "ADE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == -1 { // not a route (404), or job A itself
				if tt.resp.StatusCode == http.StatusNotFound {
					return
				}
				tt.want = http.StatusOK
			}
			if tt.resp.StatusCode != tt.want {
				t.Fatalf("status %d (%s), want %d", tt.resp.StatusCode, tt.resp.Body, tt.want)
			}
			if tt.wantJob == "" {
				return
			}
			var v cloud.JobView
			if err := json.Unmarshal([]byte(tt.resp.Body), &v); err != nil {
				t.Fatal(err)
			}
			if v.JobID != tt.wantJob || v.Course.Code != tt.wantCode {
				t.Fatalf("answered job %s of course %s, want %s of %s", v.JobID, v.Course.Code, tt.wantJob, tt.wantCode)
			}
		})
	}
}

// FuzzS3Key feeds dispatch S3 notifications with arbitrary encoded keys (URL-encoded,
// '+' for spaces, unicode, very long, malformed escapes) for an object that exists
// under the decoded key, delivered twice. Keys that do not decode or are not course
// files start nothing; the others record exactly one job with a well-formed id, read
// the object under exactly the key s3obj.DecodeKey gives, and the redelivery changes
// nothing.
func FuzzS3Key(f *testing.F) {
	for _, k := range []string{
		"input/ADE/exam+2024-06.json",
		"input/ADE/%E2%82%AC+esame.json",
		"input/%CE%95%CE%BB%CE%BB%CE%B7%CE%BD%CE%B9%CE%BA%CE%AC/a.jsonl",
		"input/ADE/%zz.json",
		"input/ADE/a%2Fb%2Fc.JSON",
		"input/../results/ADE/x.json",
		"results/ADE/ade-0123456789ab.json",
		"input/" + strings.Repeat("a", 1100) + "/x.json",
		"input/ADE.json",
		"input/ADE/x.jsonl%00",
	} {
		f.Add(k, false)
		f.Add(k, true)
	}
	f.Fuzz(func(t *testing.T, rawKey string, jsonl bool) {
		ctx := context.Background()
		fx := newAPIFixture()
		before := len(fx.jobs.jobs)
		decoded, decErr := s3obj.DecodeKey(rawKey)
		if _, err := url.QueryUnescape(rawKey); (err == nil) != (decErr == nil) {
			t.Fatalf("DecodeKey and QueryUnescape disagree on %q", rawKey)
		}
		if decErr == nil {
			content := adeCourse
			if jsonl {
				content = "{\"text\": \"a\"}\n{\"text\": \"b\"}\n"
			}
			fx.objs.put(decoded, []byte(content))
		}
		rec := cloud.S3Record{EventSource: "aws:s3", EventName: "ObjectCreated:Put"}
		rec.S3.Bucket.Name = "bucket"
		rec.S3.Object.Key = rawKey
		rec.S3.Object.ETag = "etag"
		for delivery := 1; delivery <= 2; delivery++ {
			if err := fx.d.S3Record(ctx, rec); err != nil {
				t.Fatalf("delivery %d of %q: %v", delivery, rawKey, err)
			}
		}
		ik, isCourseFile := cloud.ParseInputKey(decoded, "input/")
		created := len(fx.jobs.jobs) - before
		if decErr != nil || !isCourseFile {
			if created != 0 || fx.objs.gets != 0 || len(fx.execs.names) != 0 {
				t.Fatalf("key %q (decoded %q, course file %v) created %d jobs, read %d objects", rawKey, decoded, isCourseFile, created, fx.objs.gets)
			}
			return
		}
		if strings.Contains(ik.Course, "/") || strings.Contains(ik.Name, "/") || (ik.Format != course.JSON && ik.Format != course.JSONL) {
			t.Fatalf("ParseInputKey(%q) = %+v", decoded, ik)
		}
		if created != 1 {
			t.Fatalf("key %q: %d jobs after two deliveries, want 1", rawKey, created)
		}
		for id, job := range fx.jobs.jobs {
			if id == completedJob {
				continue
			}
			if !cloud.ValidJobID(id) || job.Source != "s3://bucket/"+decoded {
				t.Fatalf("job %q with source %q for key %q", id, job.Source, decoded)
			}
			switch job.Status {
			case examina.JobPending:
				if fx.objs.gets != 2 || len(fx.execs.names) == 0 {
					t.Fatalf("pending job %s: %d reads, executions %v", id, fx.objs.gets, fx.execs.names)
				}
				for _, n := range fx.execs.names {
					if n != id {
						t.Fatalf("execution %s started for job %s", n, id)
					}
				}
			case examina.JobRejected:
				if len(job.Problems) == 0 || len(fx.execs.names) != 0 {
					t.Fatalf("rejected job %s: problems %v, executions %v", id, job.Problems, fx.execs.names)
				}
			default:
				t.Fatalf("job %s has status %s", id, job.Status)
			}
		}
	})
}

// FuzzTask feeds the analyze handler's message parser arbitrary bodies: an accepted
// task has a job id and a position within its total, and survives a round trip.
func FuzzTask(f *testing.F) {
	good, _ := json.Marshal(cloud.Task{JobID: completedJob, Course: examina.Course{Code: "ADE"}, Position: 1,
		Exercise: examina.Exercise{ID: "e", Text: "t", Position: 1}, Previous: "p", Total: 2})
	for _, s := range []string{string(good), `{}`, `{"job_id": "x", "position": -1, "total": 1}`,
		`{"job_id": "x", "position": 0, "total": 1, "exercise": {"position": 0}, "extra": [1,2]}`,
		`{"job_id": "x", "position": 9223372036854775807, "total": 1}`, `[`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		task, err := cloud.ParseTask(body)
		if err != nil {
			return
		}
		if task.JobID == "" || task.Position < 0 || task.Position >= task.Total || task.Exercise.Position != task.Position {
			t.Fatalf("accepted task %+v", task)
		}
		b, err := json.Marshal(task)
		if err != nil {
			t.Fatal(err)
		}
		again, err := cloud.ParseTask(string(b))
		if err != nil || !reflect.DeepEqual(again, task) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, task)
		}
	})
}
