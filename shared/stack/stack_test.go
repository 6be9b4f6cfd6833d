package stack_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/stack"
	"github.com/examina-dev/examina-serverless/shared/stack/emulator"
	"github.com/examina-dev/examina-serverless/shared/stack/lambdarie"
	"github.com/examina-dev/examina-serverless/shared/testkit/fakeopenai"
)

const jobWait = 3 * time.Minute

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// up deploys template (default: the real template.yaml) with params; in CI a
// missing moto, aws-lambda-rie or aws CLI fails the test, elsewhere it skips.
func up(t *testing.T, template string, params map[string]string) *stack.Stack {
	t.Helper()
	root := repoRoot(t)
	if template == "" {
		template = filepath.Join(root, "template.yaml")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		missing(t, errors.New("the aws CLI is not installed (pip install awscli)"))
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	engineLog, err := os.Create(filepath.Join(dir, "logs", "engine.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engineLog.Close() })
	st, err := stack.Up(ctx, stack.Config{Dir: dir, Template: template, CodeRoot: root, Parameters: params,
		Logger: slog.New(slog.NewJSONHandler(engineLog, nil))})
	if errors.Is(err, emulator.ErrNotInstalled) || errors.Is(err, lambdarie.ErrNotInstalled) {
		missing(t, err)
	}
	if err != nil {
		t.Fatalf("stack.Up: %v\nmoto log tail:\n%s", err, tail(filepath.Join(dir, "logs", "moto.log")))
	}
	t.Logf("stack up in %.1fs", time.Since(start).Seconds())
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
			for _, l := range logs {
				t.Logf("== %s (tail)\n%s", filepath.Base(l), tail(l))
			}
		}
		if err := st.Close(); err != nil {
			t.Errorf("closing the stack: %v", err)
		}
	})
	return st
}

func missing(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(err)
	}
	t.Skip(err)
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

// cliEnv is the environment of the aws CLI: DIR/env's variables.
func cliEnv(st *stack.Stack) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "AWS_EC2_METADATA_DISABLED=true"}
	for k, v := range st.Env() {
		env = append(env, k+"="+v)
	}
	return env
}

func awsCLI(t *testing.T, st *stack.Stack, args ...string) string {
	t.Helper()
	cmd := exec.Command("aws", args...)
	cmd.Dir = repoRoot(t)
	cmd.Env = cliEnv(st)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitResult waits for the job's result document under results/ and returns it.
func waitResult(t *testing.T, st *stack.Stack, job string) map[string]any {
	t.Helper()
	client := s3.NewFromConfig(st.AWSConfig(), func(o *s3.Options) { o.UsePathStyle = true })
	bucket := st.Env()["BUCKET_NAME"]
	key := "results/ADE/" + job + ".json"
	deadline := time.Now().Add(jobWait)
	for time.Now().Before(deadline) {
		out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err == nil {
			defer out.Body.Close()
			var doc map[string]any
			if err := json.NewDecoder(out.Body).Decode(&doc); err != nil {
				t.Fatalf("result document: %v", err)
			}
			waitSettled(t, st, job, deadline)
			return doc
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no %s after %s", key, jobWait)
	return nil
}

// waitSettled waits until the state machine has finished the job whose document is
// written: the merge writes it before the next state marks the job and ends the
// execution, so a test reading those right after the document races them.
func waitSettled(t *testing.T, st *stack.Stack, job string, deadline time.Time) {
	t.Helper()
	for time.Now().Before(deadline) {
		_, _, status := meta(t, st, job)
		if status != string(examina.JobRunning) && status != string(examina.JobPending) && executions(t, st)["RUNNING"] == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// jobID is the id dispatch gives the course file: course code and content hash.
func jobID(t *testing.T, st *stack.Stack) string {
	t.Helper()
	db := dynamodb.NewFromConfig(st.AWSConfig())
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(st.Env()["TABLE_NAME"])})
		if err == nil {
			for _, it := range out.Items {
				if sk, ok := it["SK"].(*ddbtypes.AttributeValueMemberS); ok && sk.Value == "META" {
					return strings.TrimPrefix(it["PK"].(*ddbtypes.AttributeValueMemberS).Value, "JOB#")
				}
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatal("no job recorded")
	return ""
}

func meta(t *testing.T, st *stack.Stack, job string) (done, total int, status string) {
	t.Helper()
	db := dynamodb.NewFromConfig(st.AWSConfig())
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(st.Env()["TABLE_NAME"]), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"PK": &ddbtypes.AttributeValueMemberS{Value: "JOB#" + job}, "SK": &ddbtypes.AttributeValueMemberS{Value: "META"}}})
	if err != nil {
		t.Fatal(err)
	}
	n := func(k string) int {
		if v, ok := out.Item[k].(*ddbtypes.AttributeValueMemberN); ok {
			i, _ := strconv.Atoi(v.Value)
			return i
		}
		return -1
	}
	if v, ok := out.Item["status"].(*ddbtypes.AttributeValueMemberS); ok {
		status = v.Value
	}
	return n("done"), n("total"), status
}

// localResult runs the local command on the course with args and returns its document.
func localResult(t *testing.T, args ...string) map[string]any {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "result.json")
	cmd := exec.Command("go", append([]string{"run", "./cmd/examina", "analyze", "--input", "examples/ade.json",
		"--store", filepath.Join(dir, "store"), "--out", out, "--quiet"}, args...)...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "EXAMINA_PROVIDER=", "GROQ_API_KEY=", "OPENAI_API_KEY=", "ANTHROPIC_API_KEY=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("examina analyze: %v\n%s", err, msg)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// timing drops what differs between two runs of the same analysis: latencies
// and timestamps.
func timing(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if k == "latency_ms" || k == "attempt_log" || strings.HasSuffix(k, "_at") {
				continue
			}
			out[k] = timing(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = timing(e)
		}
		return out
	}
	return v
}

// sameAnalysis compares the analyses and what the merge makes of them: exercises,
// merged groups, topics, core loops (without timings).
func sameAnalysis(t *testing.T, got, want map[string]any) {
	t.Helper()
	for _, k := range []string{"exercises", "merged_exercises", "topics", "core_loops"} {
		g, _ := json.Marshal(timing(got[k]))
		w, _ := json.Marshal(timing(want[k]))
		if !bytes.Equal(g, w) {
			t.Errorf("%s on the stack differs from the local run's:\nstack: %.400s\nlocal: %.400s", k, g, w)
		}
	}
	gs, _ := got["stats"].(map[string]any)
	ws, _ := want["stats"].(map[string]any)
	if gs["merged_groups"] != ws["merged_groups"] || gs["exercises"] != ws["exercises"] {
		t.Errorf("stats: stack %v, local %v", gs, ws)
	}
}

// signed sends a request to the stack's API signed with SigV4 for execute-api
// with the stack's credentials (unsigned when sign is false).
func signed(t *testing.T, st *stack.Stack, method, path string, body []byte, sign bool) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, st.Env()["API_URL"]+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if sign {
		creds, err := st.AWSConfig().Credentials.Retrieve(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "execute-api", emulator.Region, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func getJob(t *testing.T, st *stack.Stack, job string) cloud.JobView {
	t.Helper()
	status, body := signed(t, st, http.MethodGet, "/analyses/"+job, nil, true)
	if status != http.StatusOK {
		t.Fatalf("GET /analyses/%s = %d %s", job, status, body)
	}
	var v cloud.JobView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("GET body: %v: %s", err, body)
	}
	return v
}

func waitCompleted(t *testing.T, st *stack.Stack, job string) cloud.JobView {
	t.Helper()
	deadline := time.Now().Add(jobWait)
	for time.Now().Before(deadline) {
		v := getJob(t, st, job)
		switch v.Status {
		case examina.JobCompleted:
			return v
		case examina.JobFailed, examina.JobRejected:
			t.Fatalf("job %s %s: %s %v", job, v.Status, v.Reason, v.Problems)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("job %s not completed after %s", job, jobWait)
	return cloud.JobView{}
}

func dlqDepth(t *testing.T, st *stack.Stack) int {
	t.Helper()
	out, err := sqs.NewFromConfig(st.AWSConfig()).GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(st.Env()["DLQ_URL"]), AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		i, _ := strconv.Atoi(v)
		n += i
	}
	return n
}

// executions counts the state machine's executions by status once none is running
// (or after a minute).
func executions(t *testing.T, st *stack.Stack) map[string]int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		n := executionCounts(t, st)
		if n["RUNNING"] == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func executionCounts(t *testing.T, st *stack.Stack) map[string]int {
	t.Helper()
	out, err := sfn.NewFromConfig(st.AWSConfig()).ListExecutions(context.Background(), &sfn.ListExecutionsInput{StateMachineArn: aws.String(st.Env()["STATE_MACHINE_ARN"])})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, e := range out.Executions {
		n[string(e.Status)]++
	}
	return n
}

// TestStackOffline is issue 9's tests 1, 2 and the duplicate deliveries of 4 on
// the real template with the offline provider: the aws CLI uploads the course,
// the bucket's notification runs dispatch, the state machine fans out, the SQS
// poller runs analyze, merge writes the result; then the API, signed and not.
func TestStackOffline(t *testing.T) {
	st := up(t, "", nil)
	want := localResult(t, "--provider", "offline")

	start := time.Now()
	awsCLI(t, st, "s3", "cp", "examples/ade.json", "s3://"+st.Env()["BUCKET_NAME"]+"/input/ADE/ade.json")
	job := jobID(t, st)
	got := waitResult(t, st, job)
	t.Logf("ADE job end to end on the stack: %.1fs", time.Since(start).Seconds())
	sameAnalysis(t, got, want)
	view := waitCompleted(t, st, job)
	if view.Result == nil || len(view.Result.Topics) == 0 || view.Done != view.Total {
		t.Errorf("GET /analyses/%s: %+v", job, view)
	}
	if done, total, _ := meta(t, st, job); done != total || total != 35 {
		t.Errorf("META done %d total %d, want 35/35", done, total)
	}
	// The README's next step: list the results with the aws CLI (a signed query with a
	// "/" delimiter, launcher patch S12).
	if out := awsCLI(t, st, "s3", "ls", "s3://"+st.Env()["BUCKET_NAME"]+"/results/ADE/"); !strings.Contains(out, job+".json") || !strings.Contains(out, job+".html") {
		t.Errorf("aws s3 ls results/ADE/ lists neither %s.json nor .html:\n%s", job, out)
	}

	t.Run("duplicate S3 notification", func(t *testing.T) {
		if n := executions(t, st); n["SUCCEEDED"] != 1 || len(n) != 1 {
			t.Fatalf("executions after the upload: %v, want one SUCCEEDED", n)
		}
		head, err := s3.NewFromConfig(st.AWSConfig(), func(o *s3.Options) { o.UsePathStyle = true }).HeadObject(context.Background(),
			&s3.HeadObjectInput{Bucket: aws.String(st.Env()["BUCKET_NAME"]), Key: aws.String("input/ADE/ade.json")})
		if err != nil {
			t.Fatal(err)
		}
		event := s3Event(st.Env()["BUCKET_NAME"], "input/ADE/ade.json", strings.Trim(aws.ToString(head.ETag), `"`), aws.ToString(head.VersionId))
		for range 2 {
			if out, fnErr, err := st.InvokeFunction(context.Background(), st.PhysicalID("DispatchFunction"), event); err != nil || fnErr != "" {
				t.Fatalf("dispatch: %v %s %s", err, fnErr, out)
			}
		}
		if n := executions(t, st); n["SUCCEEDED"] != 1 || len(n) != 1 {
			t.Errorf("executions after two more notifications: %v, want one SUCCEEDED", n)
		}
	})
	t.Run("duplicate SQS message", func(t *testing.T) {
		body := taskBody(t, job, 0)
		if _, err := sqs.NewFromConfig(st.AWSConfig()).SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(st.Env()["QUEUE_URL"]), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
		waitQueueEmpty(t, st)
		if done, total, status := meta(t, st, job); done != total || status != string(examina.JobCompleted) {
			t.Errorf("after a duplicate message: done %d total %d status %s", done, total, status)
		}
		if n := dlqDepth(t, st); n != 0 {
			t.Errorf("DLQ holds %d messages", n)
		}
	})

	t.Run("API", func(t *testing.T) {
		course := readCourse(t)
		course["exercises"] = course["exercises"].([]any)[:30] // another job than the upload's
		body, _ := json.Marshal(course)
		status, out := signed(t, st, http.MethodPost, "/courses/ADE/analyses", body, true)
		if status != http.StatusAccepted {
			t.Fatalf("signed POST = %d %s, want 202", status, out)
		}
		var acc cloud.Accepted
		if err := json.Unmarshal(out, &acc); err != nil || acc.JobID == "" || acc.JobID == job {
			t.Fatalf("202 body %s", out)
		}
		if v := waitCompleted(t, st, acc.JobID); v.Total != 30 || v.Result == nil {
			t.Errorf("completed job %+v", v)
		}
		if status, out := signed(t, st, http.MethodPost, "/courses/ADE/analyses", body, false); status != http.StatusForbidden {
			t.Errorf("unsigned POST = %d %s, want 403", status, out)
		}
		if status, out := signed(t, st, http.MethodGet, "/analyses/"+job, nil, false); status != http.StatusForbidden {
			t.Errorf("unsigned GET = %d %s, want 403", status, out)
		}
		bad := []byte(`{"course": {"code": "ADE", "name": "x"}, "exercises": [{"id": "", "text": ""}]}`)
		status, out = signed(t, st, http.MethodPost, "/courses/ADE/analyses", bad, true)
		var eb cloud.ErrorBody
		if status != http.StatusBadRequest || json.Unmarshal(out, &eb) != nil || len(eb.Problems) == 0 {
			t.Errorf("bad course = %d %s, want 400 with problems", status, out)
		}
		big := bytes.Repeat([]byte("x"), stack.MaxRequestBody+1)
		if status, _ := signed(t, st, http.MethodPost, "/courses/ADE/analyses", big, true); status != http.StatusRequestEntityTooLarge {
			t.Errorf("11 MB body = %d, want 413", status)
		}
	})
}

// TestStackOpenAIAtLeastOnce runs the job with Provider=openai against a fake
// OpenAI-compatible server (BaseUrl): its in-flight requests never exceed
// BatchSize; an analyze RIE process is SIGKILLed mid-invocation and its message
// comes back after the queue's visibility timeout (a template copy with 15 s
// instead of 900 s, so the test does not wait a quarter of an hour); the job
// completes exactly once and the DLQ stays empty.
func TestStackOpenAIAtLeastOnce(t *testing.T) {
	fake := newCountingFake(300 * time.Millisecond)
	fake.holdAt = 5
	defer fake.Close()
	tpl := templateCopy(t, func(s string) string {
		return strings.Replace(s, "VisibilityTimeout: 900", "VisibilityTimeout: 15", 1)
	})
	const batch = 3
	st := up(t, tpl, map[string]string{"Provider": "openai", "BaseUrl": fake.URL + "/v1", "BatchSize": strconv.Itoa(batch)})
	awsCLI(t, st, "s3", "cp", "examples/ade.json", "s3://"+st.Env()["BUCKET_NAME"]+"/input/ADE/ade.json")
	job := jobID(t, st)

	// The fifth provider call is held at the fake server: every analyze process
	// busy then is inside its provider call; SIGKILL them all mid-invocation.
	select {
	case <-fake.held:
	case <-time.After(time.Minute):
		t.Fatal("no provider call reached the fake server")
	}
	pids := st.Pool().Busy("AnalyzeFunction")
	if len(pids) == 0 {
		t.Fatal("no busy analyze process to kill")
	}
	for _, pid := range pids {
		killTree(t, pid)
	}
	close(fake.release)
	got := waitResult(t, st, job)
	if done, total, status := meta(t, st, job); done != total || total != 35 || status != string(examina.JobCompleted) {
		t.Errorf("META done %d total %d status %s", done, total, status)
	}
	if n := executions(t, st); n["SUCCEEDED"] != 1 || len(n) != 1 {
		t.Errorf("executions %v, want one SUCCEEDED", n)
	}
	if n := dlqDepth(t, st); n != 0 {
		t.Errorf("DLQ holds %d messages", n)
	}
	if m := fake.maxInFlight.Load(); m > batch || m < 2 {
		t.Errorf("most requests in flight at the fake server = %d, want 2..%d (BatchSize)", m, batch)
	}
	if b, _ := os.ReadFile(filepath.Join(st.Dir(), "logs", "engine.log")); !bytes.Contains(b, []byte("Runtime exited")) {
		t.Errorf("the poller saw no failed invocation after SIGKILL of analyze RIE %v", pids)
	}
	if n := fake.requests.Load(); n < 35+int64(len(pids)) {
		t.Errorf("fake server saw %d requests; want 35 + %d for the killed invocations' exercises analysed again", n, len(pids))
	}
	t.Logf("fake server: %d requests, at most %d in flight (BatchSize %d)", fake.requests.Load(), fake.maxInFlight.Load(), batch)

	local := newCountingFake(0)
	defer local.Close()
	want := localResult(t, "--provider", "openai", "--base-url", local.URL+"/v1", "--batch-size", strconv.Itoa(batch))
	sameAnalysis(t, got, want)
}

// TestStackIAM is issue 9's test 3: the analyze role without write access to the
// table makes the job fail with AccessDenied in the function's log.
func TestStackIAM(t *testing.T) {
	// The analyze role's JobStore statement without its writes (PutItem, UpdateItem).
	writes := "                - dynamodb:PutItem\n                - dynamodb:UpdateItem\n"
	tpl := templateCopy(t, func(s string) string {
		i := strings.Index(s, "  AnalyzeFunction:")
		j := strings.Index(s[i:], writes)
		if i < 0 || j < 0 {
			t.Fatal("template.yaml: the analyze role's table writes are not where this test removes them")
		}
		return s[:i+j] + s[i+j+len(writes):]
	})
	st := up(t, tpl, nil)
	awsCLI(t, st, "s3", "cp", "examples/ade.json", "s3://"+st.Env()["BUCKET_NAME"]+"/input/ADE/ade.json")
	logs := filepath.Join(st.Dir(), "logs", st.PhysicalID("AnalyzeFunction")+".log")
	deadline := time.Now().Add(jobWait)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(logs)
		if bytes.Contains(b, []byte("AccessDenied")) {
			job := jobID(t, st)
			if done, _, status := meta(t, st, job); status == string(examina.JobCompleted) || done != 0 {
				t.Errorf("job %s: status %s done %d, want no exercise counted", job, status, done)
			}
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no AccessDenied in %s", logs)
}

// killTree SIGKILLs a process and its descendants: aws-lambda-rie starts the
// bootstrap in a process group of its own, as Lambda's runtime does.
func killTree(t *testing.T, pid int) {
	t.Helper()
	// Each thread lists the children it started (a Go program starts them from any).
	var raw []byte
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		raw = append(append(raw, b...), ' ')
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing %d: %v", pid, err)
	}
	for _, f := range strings.Fields(string(raw)) {
		if child, err := strconv.Atoi(f); err == nil {
			killTree(t, child)
		}
	}
}

func templateCopy(t *testing.T, edit func(string) string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	edited := edit(string(raw))
	if edited == string(raw) {
		t.Fatal("the template edit changed nothing")
	}
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readCourse(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", "ade.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// taskBody is the analyze message dispatch sent for position pos of the course.
func taskBody(t *testing.T, job string, pos int) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", "ade.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Course    examina.Course     `json:"course"`
		Exercises []examina.Exercise `json:"exercises"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	ex := c.Exercises[pos]
	ex.Position = pos
	b, _ := json.Marshal(cloud.Task{JobID: job, Course: c.Course, Position: pos, Exercise: ex, Total: len(c.Exercises)})
	return string(b)
}

func waitQueueEmpty(t *testing.T, st *stack.Stack) {
	t.Helper()
	client := sqs.NewFromConfig(st.AWSConfig())
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		out, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(st.Env()["QUEUE_URL"]),
			AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
		if err != nil {
			t.Fatal(err)
		}
		if out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0" {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatal("the analyze queue did not drain")
}

// s3Event is the notification S3 sends for a put of key (version of a versioned bucket).
func s3Event(bucket, key, etag, version string) []byte {
	ev := map[string]any{"Records": []any{map[string]any{
		"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": emulator.Region, "eventName": "ObjectCreated:Put",
		"eventTime": time.Now().UTC().Format(time.RFC3339),
		"s3": map[string]any{"s3SchemaVersion": "1.0", "configurationId": "dup",
			"bucket": map[string]any{"name": bucket, "arn": "arn:aws:s3:::" + bucket},
			"object": map[string]any{"key": key, "size": 11970, "eTag": etag, "versionId": version}},
	}}}
	b, _ := json.Marshal(ev)
	return b
}

// countingFake is fakeopenai behind a counter of requests in flight. When holdAt
// is set, that request signals held and waits for release to be closed.
type countingFake struct {
	*httptest.Server
	requests, inFlight, maxInFlight atomic.Int64
	mu                              sync.Mutex
	holdAt                          int64
	held, release                   chan struct{}
}

func newCountingFake(latency time.Duration) *countingFake {
	f := &countingFake{held: make(chan struct{}), release: make(chan struct{})}
	h := fakeopenai.NewHandler(fakeopenai.Config{Latency: latency})
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.requests.Add(1) == f.holdAt {
			close(f.held)
			select {
			case <-f.release:
			case <-r.Context().Done():
			}
		}
		n := f.inFlight.Add(1)
		defer f.inFlight.Add(-1)
		f.mu.Lock()
		if n > f.maxInFlight.Load() {
			f.maxInFlight.Store(n)
		}
		f.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	return f
}
