package template_test

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
)

var jobID = regexp.MustCompile(`^[a-z0-9_-]{1,40}-[0-9a-f]{12}$`)

func readEvent(t *testing.T, name string, v any) {
	t.Helper()
	root, err := mototest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestEventsAreConsistent checks the events/ files against the cloud contract:
// one job, the example course ADE, keys under the trigger prefix.
func TestEventsAreConsistent(t *testing.T) {
	var s3 events.S3Event
	readEvent(t, "s3-put.json", &s3)
	if len(s3.Records) != 1 || s3.Records[0].EventSource != "aws:s3" {
		t.Fatalf("s3-put.json: %+v", s3.Records)
	}
	key, err := url.QueryUnescape(s3.Records[0].S3.Object.Key)
	if err != nil || !strings.HasPrefix(key, mototest.InputPrefix+"ADE/") || !strings.HasSuffix(key, ".json") {
		t.Errorf("s3-put.json key %q (%v) is not input/ADE/*.json", key, err)
	}

	var post, get events.APIGatewayV2HTTPRequest
	readEvent(t, "api-post.json", &post)
	readEvent(t, "api-get.json", &get)
	var file examina.CourseFile
	if err := json.Unmarshal([]byte(post.Body), &file); err != nil || file.Course.Code != "ADE" || len(file.Exercises) == 0 {
		t.Errorf("api-post.json body: course %+v, %d exercises, %v", file.Course, len(file.Exercises), err)
	}
	if post.RequestContext.HTTP.Method != "POST" || post.PathParameters["course"] != "ADE" || post.RouteKey != "POST /courses/{course}/analyses" {
		t.Errorf("api-post.json request: %+v", post.RequestContext.HTTP)
	}
	job := get.PathParameters["job"]
	if get.RequestContext.HTTP.Method != "GET" || !jobID.MatchString(job) || get.RawPath != "/analyses/"+job {
		t.Errorf("api-get.json: job %q, path %q", job, get.RawPath)
	}

	var sqs events.SQSEvent
	readEvent(t, "sqs-batch.json", &sqs)
	seen := map[int]int{}
	for _, r := range sqs.Records {
		var m struct {
			JobID    string           `json:"job_id"`
			Course   examina.Course   `json:"course"`
			Position int              `json:"position"`
			Exercise examina.Exercise `json:"exercise"`
			Total    int              `json:"total"`
		}
		if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
			t.Fatalf("sqs-batch.json %s: %v", r.MessageId, err)
		}
		if m.JobID != job || m.Course.Code != "ADE" || m.Total != len(file.Exercises) ||
			m.Exercise.Position != m.Position || m.Exercise.ID != file.Exercises[m.Position].ID {
			t.Errorf("sqs-batch.json %s: %+v", r.MessageId, m)
		}
		seen[m.Position]++
	}
	dup := 0
	for _, n := range seen {
		if n > 1 {
			dup++
		}
	}
	if len(sqs.Records) < 3 || dup != 1 {
		t.Errorf("sqs-batch.json: want a batch with one duplicate delivery, got positions %v", seen)
	}

	var fan struct {
		Action    string `json:"action"`
		JobID     string `json:"job_id"`
		TaskToken string `json:"task_token"`
	}
	readEvent(t, "fanout-task.json", &fan)
	var merge struct {
		JobID string `json:"job_id"`
	}
	readEvent(t, "merge-task.json", &merge)
	if fan.Action != "fanout" || fan.JobID != job || fan.TaskToken == "" || merge.JobID != job {
		t.Errorf("fanout-task.json %+v, merge-task.json %+v, want job %s", fan, merge, job)
	}
}
