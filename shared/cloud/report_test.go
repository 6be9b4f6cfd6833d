package cloud_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
	"github.com/examina-dev/examina-serverless/shared/report"
)

func reportRequest(id string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{RawPath: "/analyses/" + id + "/report", RouteKey: "$default"}
	req.RequestContext.HTTP.Method = http.MethodGet
	return req
}

// TestReport: the merge stores the HTML report beside the JSON, and
// GET /analyses/{job}/report returns it inline, or as a presigned URL past the
// inline limit, or renders it from the JSON when it was never stored; unknown,
// malformed and unfinished jobs get 404, 400 and 409.
func TestReport(t *testing.T) {
	s := newStack(t)
	const id = "ade-0000000000d1"
	const n = 4
	bodies := analyzeJob(t, s, id, n, "tok-d1")
	d := s.dispatcher()

	// Before the merge: 409, the job has no result yet.
	if resp := d.HandleAPI(s.ctx, reportRequest(id)); resp.StatusCode != http.StatusConflict || !strings.Contains(resp.Body, "no report yet") {
		t.Fatalf("report of an unfinished job = %d %s", resp.StatusCode, resp.Body)
	}
	h := s.analyzeHandler(offline.New(), &countingSignaler{})
	for i := range n {
		if _, err := h.Handle(s.ctx, batch(msg("m", bodies[i], 1))); err != nil {
			t.Fatal(err)
		}
	}
	out, err := (&cloud.Merger{Store: s.store, Objects: s.bucket}).Merge(s.ctx, cloud.MergeInput{JobID: id})
	if err != nil {
		t.Fatal(err)
	}
	htmlKey := "results/ADE/" + id + ".html"
	if got := cloud.ReportKey(out.ResultKey); got != htmlKey {
		t.Fatalf("ReportKey(%q) = %q, want %q", out.ResultKey, got, htmlKey)
	}
	var doc examina.Result
	if err := s.bucket.GetJSON(s.ctx, out.ResultKey, &doc); err != nil {
		t.Fatal(err)
	}
	want, err := report.HTMLBytes(doc)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.s3.GetObject(s.ctx, &s3.GetObjectInput{Bucket: &s.st.BucketName, Key: &htmlKey})
	if err != nil {
		t.Fatalf("the merge wrote no %s: %v", htmlKey, err)
	}
	stored, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if !bytes.Equal(stored, want) || *obj.ContentType != "text/html; charset=utf-8" {
		t.Fatalf("stored report (%s, %d bytes) is not the report of the stored document (%d bytes)", *obj.ContentType, len(stored), len(want))
	}

	// Inline.
	resp := d.HandleAPI(s.ctx, reportRequest(id))
	if resp.StatusCode != http.StatusOK || resp.Body != string(want) || resp.Headers["Content-Type"] != report.ContentType {
		t.Fatalf("GET report = %d %q %.200s", resp.StatusCode, resp.Headers["Content-Type"], resp.Body)
	}
	// Through a stage prefix and the route key API Gateway gives.
	staged := reportRequest(id)
	staged.RawPath = "/prod/analyses/" + id + "/report"
	if resp := d.HandleAPI(s.ctx, staged); resp.StatusCode != http.StatusOK {
		t.Errorf("GET report through a stage = %d", resp.StatusCode)
	}
	keyed := events.APIGatewayV2HTTPRequest{RouteKey: cloud.RouteReport, PathParameters: map[string]string{"job": id}}
	keyed.RequestContext.HTTP.Method = http.MethodGet
	if resp := d.HandleAPI(s.ctx, keyed); resp.StatusCode != http.StatusOK {
		t.Errorf("GET report by route key = %d", resp.StatusCode)
	}

	// Past the inline limit: a presigned URL that serves the same page.
	big := s.dispatcher()
	big.ReportInlineBytes = len(want) / 2
	big.ReportURLTTL = 10 * time.Minute
	resp = big.HandleAPI(s.ctx, reportRequest(id))
	var link cloud.ReportLink
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &link) != nil || link.JobID != id || link.ReportURL == "" {
		t.Fatalf("GET large report = %d %s", resp.StatusCode, resp.Body)
	}
	if exp, err := time.Parse(time.RFC3339, link.ExpiresAt); err != nil || time.Until(exp) > 10*time.Minute || time.Until(exp) < 9*time.Minute {
		t.Errorf("expires_at %q (%v), want about 10 minutes from now", link.ExpiresAt, err)
	}
	got, err := http.Get(link.ReportURL)
	if err != nil {
		t.Fatal(err)
	}
	fetched, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if got.StatusCode != http.StatusOK || !bytes.Equal(fetched, want) {
		t.Fatalf("GET presigned report = %d, %d bytes, want the page", got.StatusCode, len(fetched))
	}

	// Never stored (a job merged before reports existed): rendered from the JSON.
	if _, err := s.s3.DeleteObject(s.ctx, &s3.DeleteObjectInput{Bucket: &s.st.BucketName, Key: &htmlKey}); err != nil {
		t.Fatal(err)
	}
	if resp := d.HandleAPI(s.ctx, reportRequest(id)); resp.StatusCode != http.StatusOK || resp.Body != string(want) {
		t.Fatalf("GET report rendered from the document = %d %.200s", resp.StatusCode, resp.Body)
	}

	for _, tc := range []struct {
		req  events.APIGatewayV2HTTPRequest
		code int
	}{
		{reportRequest("ade-0000000000ff"), http.StatusNotFound},
		{reportRequest("ADE..x"), http.StatusBadRequest},
		{func() events.APIGatewayV2HTTPRequest {
			r := keyed
			r.RequestContext.HTTP.Method = http.MethodPost
			return r
		}(), http.StatusMethodNotAllowed},
	} {
		if resp := d.HandleAPI(s.ctx, tc.req); resp.StatusCode != tc.code {
			t.Errorf("%s %s = %d %s, want %d", tc.req.RequestContext.HTTP.Method, tc.req.RawPath, resp.StatusCode, resp.Body, tc.code)
		}
	}
}
