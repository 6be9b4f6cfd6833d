package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/simulated"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/s3obj"
)

// TestCloudRecovery covers the cloud failures that end an invocation early: an S3
// object deleted before dispatch reads it, a Lambda killed after writing its result
// but before signalling, and an invocation whose deadline arrives while the provider
// hangs.
func TestCloudRecovery(t *testing.T) {
	e := newCloudEnv(t, newInjector())
	ctx := e.ctx
	cf := generateCourse(t, 3)
	newJob := func(t *testing.T, id string) []string {
		t.Helper()
		job := examina.Job{ID: id, Course: cf.Course, Status: examina.JobPending, Total: len(cf.Exercises)}
		if _, err := e.store.CreateJob(ctx, job, cf.Exercises); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.StartFanOut(ctx, id, "tok-"+id); err != nil {
			t.Fatal(err)
		}
		bodies, err := cloud.Tasks(job, cf.Exercises)
		if err != nil {
			t.Fatal(err)
		}
		return bodies
	}
	handler := func(p examina.Provider, sig cloud.TaskSignaler) *cloud.Analyze {
		return &cloud.Analyze{Store: e.store, Signaler: sig, MaxReceives: 3,
			Analyzer: func(context.Context) (*pipeline.Analyzer, error) {
				return &pipeline.Analyzer{Provider: p, Policy: retry.Policy{MaxRetries: 1}, DeadlineMargin: time.Second}, nil
			}}
	}

	t.Run("S3 object deleted before dispatch", func(t *testing.T) {
		execs := &memExecutions{}
		d := e.dispatcher(execs)
		if err := d.HandleS3(ctx, s3Event(e.st.BucketName, "input/CA/gone.json")); err != nil {
			t.Fatalf("a vanished object must not fail the event (it would be retried forever): %v", err)
		}
		jobs, _ := e.store.ListJobs(ctx)
		for _, j := range jobs {
			if j.Source == "s3://"+e.st.BucketName+"/input/CA/gone.json" {
				t.Errorf("a job was recorded for a missing object: %+v", j)
			}
		}
		if len(execs.names) != 0 {
			t.Errorf("executions started for a missing object: %v", execs.names)
		}
	})

	t.Run("killed after writing, before signalling", func(t *testing.T) {
		const id = "ca-00000000c0a1"
		bodies := newJob(t, id)
		// Every result is recorded, then the Lambda dies: no ClaimSignal, no
		// SendTaskSuccess, and the last message is not deleted.
		for i, ex := range cf.Exercises {
			a := examina.DefaultAnalysis("test")
			a.Status = examina.StatusOK
			if _, _, _, err := e.store.RecordResult(ctx, id, examina.ExerciseResult{Exercise: ex, Analysis: a}); err != nil {
				t.Fatalf("recording %d: %v", i, err)
			}
		}
		item := e.meta(t, id)
		if num(item, "done") != num(item, "total") || num(item, "total") != fmt.Sprint(len(cf.Exercises)) {
			t.Fatalf("META done %s total %s", num(item, "done"), num(item, "total"))
		}
		if _, signalled := item["signalled"]; signalled {
			t.Fatal("signalled set although nobody signalled")
		}
		// Route 1, the state machine's fallback: CheckJob compares done.N and total.N
		// (equal above) and goes to Merge, which completes the job.
		m := &cloud.Merger{Store: e.store, Objects: s3obj.New(e.s3, e.st.BucketName)}
		if _, err := m.Merge(ctx, cloud.MergeInput{JobID: id}); err != nil {
			t.Fatalf("merge after the crash: %v", err)
		}
		// Route 2: SQS redelivers the unfinished message; it is not counted again and
		// its invocation sends the missing signal, once.
		sig := &recordingSignaler{}
		h := handler(simulated.New(simulated.Config{}), sig)
		last := bodies[len(bodies)-1]
		ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m-last", Body: last, Attributes: map[string]string{"ApproximateReceiveCount": "2"}}}}
		for range 2 {
			if resp, _ := h.Handle(ctx, ev); len(resp.BatchItemFailures) != 0 {
				t.Fatalf("redelivery failed: %+v", resp.BatchItemFailures)
			}
		}
		if len(sig.calls) != 1 || aws.ToString(sig.calls[0].TaskToken) != "tok-"+id {
			t.Errorf("signals after the redelivery: %d, want 1", len(sig.calls))
		}
		var out cloud.FanOutOutput
		if len(sig.calls) > 0 {
			json.Unmarshal([]byte(aws.ToString(sig.calls[0].Output)), &out)
		}
		if out.Done != len(cf.Exercises) || out.Total != len(cf.Exercises) {
			t.Errorf("task output %+v", out)
		}
		if job, _ := e.store.GetJob(ctx, id); job.Done != len(cf.Exercises) {
			t.Errorf("done %d after the redelivery, want %d", job.Done, len(cf.Exercises))
		}
	})

	t.Run("deadline approaching", func(t *testing.T) {
		const id = "ca-00000000dead"
		bodies := newJob(t, id)
		// Every call hangs until its context ends.
		hang := simulated.New(simulated.Config{FailureRate: 1, Failures: []string{simulated.FailTimeout}})
		h := handler(hang, &recordingSignaler{})
		h.MinTimeLeft = 500 * time.Millisecond
		h.NoCache = true // an earlier subtest cached these exercises
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		dl, _ := dctx.Deadline()
		var ev events.SQSEvent
		for i, b := range bodies {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("m%d", i), Body: b,
				Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
		}
		resp, err := h.Handle(dctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if left := time.Until(dl); left <= 0 {
			t.Errorf("Handle returned %v after the deadline: the Lambda would have been killed first", -left)
		}
		if len(resp.BatchItemFailures) != len(bodies) {
			t.Errorf("%d of %d messages reported failed, want all", len(resp.BatchItemFailures), len(bodies))
		}
		if job, _ := e.store.GetJob(ctx, id); job.Done != 0 || job.Degraded != 0 {
			t.Errorf("done %d degraded %d: a message that was never analysed was counted", job.Done, job.Degraded)
		}
	})
}
