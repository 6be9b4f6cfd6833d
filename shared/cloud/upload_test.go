package cloud_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

// invokeLimit is Lambda's synchronous invocation payload limit (6 MB).
const invokeLimit = 6 * 1024 * 1024

// apiEvent is the event API Gateway sends for a POST: realistic headers and request
// context around the body, as the HTTP API (payload 2.0) spells them.
func apiEvent(body string, b64 bool) events.APIGatewayV2HTTPRequest {
	req := postRequest("ADE", body, "application/json", "KxY1wgN8oAMEPOw=")
	req.Version, req.RawQueryString, req.IsBase64Encoded = "2.0", "", b64
	for k, v := range map[string]string{"accept": "*/*", "authorization": "AWS4-HMAC-SHA256 Credential=" + strings.Repeat("A", 200),
		"host": "abcdef1234.execute-api.eu-west-1.amazonaws.com", "user-agent": "curl/8.5.0", "x-amz-date": "20260101T000000Z",
		"x-amz-security-token": strings.Repeat("T", 1200), "x-forwarded-for": "203.0.113.7", "x-forwarded-port": "443", "x-forwarded-proto": "https"} {
		req.Headers[k] = v
	}
	req.RequestContext.AccountID, req.RequestContext.APIID, req.RequestContext.Stage = "123456789012", "abcdef1234", "$default"
	req.RequestContext.DomainName = req.Headers["host"]
	return req
}

func TestAPIBodyCapFitsTheInvokeLimit(t *testing.T) {
	d := &cloud.Dispatcher{} // the cap is checked before any backend is used
	quotes := func(n int) string { return `{"course":"` + strings.Repeat(`\"`, n/2) + `"}` }
	tests := []struct {
		name   string
		body   string
		b64    bool
		status int
	}{
		// 4.6 MB of text, under the old 10 MiB check, but 6.9 MB escaped in the event.
		{"escaping takes it over the cap", quotes(4_600_000), false, http.StatusRequestEntityTooLarge},
		{"base64 takes it over the cap", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("a"), 4<<20)), true, http.StatusRequestEntityTooLarge},
		{"just over the cap", strings.Repeat(" ", cloud.MaxAPIBodyBytes+1), false, http.StatusRequestEntityTooLarge},
		{"at the cap: parsed", strings.Repeat(" ", cloud.MaxAPIBodyBytes-2) + "{}", false, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := d.HandleAPI(t.Context(), apiEvent(tc.body, tc.b64))
			var body cloud.ErrorBody
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || resp.StatusCode != tc.status {
				t.Fatalf("= %d %.300s; want %d", resp.StatusCode, resp.Body, tc.status)
			}
			if tc.status == http.StatusRequestEntityTooLarge && (len(body.Problems) != 1 || !strings.Contains(body.Problems[0], "/courses/ADE/uploads") ||
				!strings.Contains(body.Problems[0], "5242880")) {
				t.Errorf("413 problems %q: want the limit and the uploads route", body.Problems)
			}
		})
	}
	// The smallest rejected body still reaches the function: its whole event, as the
	// Lambda service delivers it, fits the invoke limit with room to spare.
	for _, b64 := range []bool{false, true} {
		body := strings.Repeat(`"`, cloud.MaxAPIBodyBytes/2+1)
		if b64 {
			body = strings.Repeat("A", cloud.MaxAPIBodyBytes+1)
		}
		ev, err := json.Marshal(apiEvent(body, b64))
		if err != nil {
			t.Fatal(err)
		}
		if len(ev) > invokeLimit-64<<10 {
			t.Errorf("base64 %v: the event of the smallest body over the cap is %d bytes, too close to the invoke limit %d", b64, len(ev), invokeLimit)
		}
		if resp := d.HandleAPI(t.Context(), apiEvent(body, b64)); resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("base64 %v: smallest body over the cap = %d", b64, resp.StatusCode)
		}
	}
}

func TestUploadRoute(t *testing.T) {
	s := newStack(t)
	d := s.dispatcher()
	d.FanOutSecondsPerExercise = 30
	upload := func(code, format, idem string) (int, cloud.Upload, string) {
		req := postRequest(code, "", "", "req-up-"+format+idem)
		req.RouteKey, req.RawPath = "$default", "/courses/"+code+"/uploads"
		req.QueryStringParameters = map[string]string{"format": format}
		if idem != "" {
			req.Headers["Idempotency-Key"] = idem
		}
		resp := d.HandleAPI(s.ctx, req)
		var u cloud.Upload
		_ = json.Unmarshal([]byte(resp.Body), &u)
		return resp.StatusCode, u, resp.Body
	}
	status, up, body := upload("ADE", "", "k1")
	if status != http.StatusCreated || up.Method != http.MethodPut || !cloud.ValidJobID(up.JobID) || up.Links["self"] != "/analyses/"+up.JobID ||
		!strings.HasPrefix(up.Key, "input/ADE/upload-") || !strings.HasSuffix(up.Key, ".json") || up.Headers["Content-Type"] != "application/json" ||
		up.MaxBytes != 10<<20 {
		t.Fatalf("POST uploads = %d %s", status, body)
	}
	if exp, err := time.Parse(time.RFC3339, up.ExpiresAt); err != nil || exp.Before(time.Now()) || exp.After(time.Now().Add(16*time.Minute)) {
		t.Errorf("expires_at %q (%v)", up.ExpiresAt, err)
	}
	if _, again, _ := upload("ADE", "", "k1"); again.Key != up.Key || again.JobID != up.JobID {
		t.Errorf("same Idempotency-Key: %s / %s, want the same key", again.Key, up.Key)
	}
	if _, other, _ := upload("ADE", "", "k2"); other.Key == up.Key || other.JobID == up.JobID {
		t.Errorf("another Idempotency-Key got the same key %s", other.Key)
	}
	if _, jl, _ := upload("ADE", "jsonl", "k1"); !strings.HasSuffix(jl.Key, ".jsonl") || jl.Headers["Content-Type"] != "application/x-ndjson" {
		t.Errorf("format=jsonl: %+v", jl)
	}
	for _, bad := range []struct{ code, format string }{{"A.B", ""}, {strings.Repeat("x", 33), ""}, {"ADE", "xml"}} {
		if status, _, body := upload(bad.code, bad.format, ""); status != http.StatusBadRequest {
			t.Errorf("POST uploads %q format %q = %d %s, want 400", bad.code, bad.format, status, body)
		}
	}

	// Before the upload the job is unknown; the PUT plus the S3 trigger record it.
	if resp := d.HandleAPI(s.ctx, getRequest(up.JobID)); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET before the upload = %d", resp.StatusCode)
	}
	req, _ := http.NewRequestWithContext(s.ctx, http.MethodPut, up.URL, strings.NewReader(small))
	for k, v := range up.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT to the upload URL = %d", resp.StatusCode)
	}
	if _, err := d.Handle(s.ctx, s.s3Event(up.Key, "etag-up")); err != nil {
		t.Fatal(err)
	}
	job, err := s.store.GetJob(s.ctx, up.JobID)
	if err != nil || job.Status != examina.JobPending || job.Total != 3 {
		t.Fatalf("job %s after the upload: %+v, %v", up.JobID, job, err)
	}
	if got := s.executions(); len(got) != 1 || got[0] != up.JobID {
		t.Fatalf("executions = %v, want [%s]", got, up.JobID)
	}
	// The fan-out wait grows with the job: 3 exercises x 30 s.
	arn := strings.Replace(s.st.StateMachineArn, ":stateMachine:", ":execution:", 1) + ":" + up.JobID
	exec, err := s.sfn.DescribeExecution(s.ctx, &sfn.DescribeExecutionInput{ExecutionArn: &arn})
	if err != nil || !strings.Contains(aws.ToString(exec.Input), `"fanout_extra_seconds":90`) {
		t.Fatalf("execution input %s, %v; want fanout_extra_seconds 90", aws.ToString(exec.Input), err)
	}

	// A file of another course uploaded through ADE's URL is rejected, naming the field.
	_, other, _ := upload("ADE", "", "k3")
	s.put(other.Key, []byte(strings.Replace(small, `"code": "ADE"`, `"code": "RETI"`, 1)))
	if _, err := d.Handle(s.ctx, s.s3Event(other.Key, "etag-up2")); err != nil {
		t.Fatal(err)
	}
	if job, err := s.store.GetJob(s.ctx, other.JobID); err != nil || job.Status != examina.JobRejected ||
		len(job.Problems) != 1 || !strings.Contains(job.Problems[0], "course.code") {
		t.Fatalf("mismatched upload: %+v, %v", job, err)
	}
}
