package cloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// analyzeJob records a job of n exercises, fanned out with token, and returns its
// message bodies by position.
func analyzeJob(t *testing.T, s *stack, id string, n int, token string) []string {
	t.Helper()
	c := examina.Course{Code: "ADE", Name: "Architettura", Language: "it"}
	exs := make([]examina.Exercise, n)
	for i := range exs {
		exs[i] = examina.Exercise{ID: fmt.Sprintf("e%d", i), Number: fmt.Sprint(i + 1), Position: i,
			Text: fmt.Sprintf("Esercizio %d: progettare un automa di Moore che riconosce la sequenza %b.", i, i+5)}
	}
	job := examina.Job{ID: id, Course: c, Status: examina.JobPending, Total: n}
	if _, err := s.store.CreateJob(s.ctx, job, exs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.StartFanOut(s.ctx, id, token); err != nil {
		t.Fatal(err)
	}
	bodies, err := cloud.Tasks(job, exs)
	if err != nil {
		t.Fatal(err)
	}
	return bodies
}

func msg(id, body string, receive int) events.SQSMessage {
	return events.SQSMessage{MessageId: id, Body: body, Attributes: map[string]string{"ApproximateReceiveCount": fmt.Sprint(receive)}}
}

func batch(msgs ...events.SQSMessage) events.SQSEvent { return events.SQSEvent{Records: msgs} }

func failures(r events.SQSEventResponse) []string {
	var ids []string
	for _, f := range r.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func (s *stack) analyzeHandler(p examina.Provider, sig cloud.TaskSignaler) *cloud.Analyze {
	return &cloud.Analyze{Store: s.store, Signaler: sig, MaxReceives: 3,
		Analyzer: func(context.Context) (*pipeline.Analyzer, error) {
			return &pipeline.Analyzer{Provider: p, Policy: retry.Policy{MaxRetries: 1}, Clock: fakeClock{}}, nil
		}}
}

func TestAnalyze(t *testing.T) {
	s := newStack(t)
	prov := &flakyProvider{Provider: offline.New(), fail: map[string]bool{"e2": true}}
	sig := &countingSignaler{}
	h := s.analyzeHandler(prov, sig)
	const id = "ade-0000000000a1"
	b := analyzeJob(t, s, id, 4, "tok-a1")

	// A duplicate delivery of position 0 and a failing position 2.
	resp, err := h.Handle(s.ctx, batch(msg("m0", b[0], 1), msg("m0-dup", b[0], 1), msg("m2", b[2], 1), msg("m1", b[1], 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := failures(resp); !slices.Equal(got, []string{"m2"}) {
		t.Fatalf("batchItemFailures = %v, want [m2]", got)
	}
	job, _ := s.store.GetJob(s.ctx, id)
	if job.Done != 2 || job.Degraded != 0 || sig.count() != 0 {
		t.Fatalf("after batch 1: done %d degraded %d signals %d; want 2, 0, 0", job.Done, job.Degraded, sig.count())
	}
	if prov.calls["e2"] != 2 {
		t.Fatalf("calls for the failing exercise = %d, want 2 (one retry inside the Lambda)", prov.calls["e2"])
	}

	// The last receive of the failing exercise degrades it and counts it; the batch
	// completes the job, which is signalled once.
	resp, _ = h.Handle(s.ctx, batch(msg("m2", b[2], 3), msg("m3", b[3], 1)))
	if got := failures(resp); len(got) != 0 {
		t.Fatalf("batchItemFailures = %v, want none", got)
	}
	job, _ = s.store.GetJob(s.ctx, id)
	if job.Done != 4 || job.Degraded != 1 {
		t.Fatalf("after batch 2: done %d degraded %d; want 4, 1", job.Done, job.Degraded)
	}
	rs, _ := s.store.Results(s.ctx, id)
	if len(rs) != 4 || rs[2].Analysis.Status != examina.StatusDegraded || rs[1].Analysis.Status != examina.StatusOK {
		t.Fatalf("results = %+v", rs)
	}
	if sig.count() != 1 || aws.ToString(sig.calls[0].TaskToken) != "tok-a1" {
		t.Fatalf("SendTaskSuccess calls = %d (%+v), want 1 with the job's token", sig.count(), sig.calls)
	}
	var out cloud.FanOutOutput
	if err := json.Unmarshal([]byte(aws.ToString(sig.calls[0].Output)), &out); err != nil || out != (cloud.FanOutOutput{JobID: id, Done: 4, Total: 4}) {
		t.Fatalf("task output = %s", aws.ToString(sig.calls[0].Output))
	}

	// Redeliveries after completion: not counted, not signalled again.
	resp, _ = h.Handle(s.ctx, batch(msg("m3", b[3], 2), msg("m1", b[1], 2)))
	job, _ = s.store.GetJob(s.ctx, id)
	if len(failures(resp)) != 0 || job.Done != 4 || sig.count() != 1 {
		t.Fatalf("redelivery after completion: failures %v, done %d, signals %d", failures(resp), job.Done, sig.count())
	}

	// A malformed message fails alone.
	resp, _ = h.Handle(s.ctx, batch(msg("bad", `{"job_id": ""}`, 1), msg("m1", b[1], 3)))
	if got := failures(resp); !slices.Equal(got, []string{"bad"}) {
		t.Fatalf("malformed message: failures %v, want [bad]", got)
	}
}

func TestAnalyzeSignalFailures(t *testing.T) {
	s := newStack(t)
	prov := offline.New()

	t.Run("SendTaskSuccess fails: redelivery signals", func(t *testing.T) {
		sig := &countingSignaler{failN: 1, err: errors.New("connection reset")}
		h := s.analyzeHandler(prov, sig)
		b := analyzeJob(t, s, "ade-0000000000b1", 1, "tok-b1")
		resp, _ := h.Handle(s.ctx, batch(msg("m0", b[0], 1)))
		if got := failures(resp); !slices.Equal(got, []string{"m0"}) {
			t.Fatalf("failures = %v, want [m0]", got)
		}
		resp, _ = h.Handle(s.ctx, batch(msg("m0", b[0], 2)))
		job, _ := s.store.GetJob(s.ctx, "ade-0000000000b1")
		if len(failures(resp)) != 0 || sig.count() != 2 || job.Done != 1 {
			t.Fatalf("after redelivery: failures %v, calls %d, done %d", failures(resp), sig.count(), job.Done)
		}
	})

	t.Run("task timed out: not retried", func(t *testing.T) {
		sig := &countingSignaler{failN: 1, err: &sfntypes.TaskTimedOut{Message: aws.String("timed out")}}
		h := s.analyzeHandler(prov, sig)
		b := analyzeJob(t, s, "ade-0000000000b2", 1, "tok-b2")
		resp, _ := h.Handle(s.ctx, batch(msg("m0", b[0], 1)))
		if len(failures(resp)) != 0 || sig.count() != 1 {
			t.Fatalf("failures %v, calls %d", failures(resp), sig.count())
		}
		if _, won, _ := s.store.ClaimSignal(s.ctx, "ade-0000000000b2"); won {
			t.Fatal("the flag was released after a timed-out task")
		}
	})

	t.Run("too little time left", func(t *testing.T) {
		sig := &countingSignaler{}
		h := s.analyzeHandler(prov, sig)
		h.MinTimeLeft = time.Hour
		b := analyzeJob(t, s, "ade-0000000000b3", 2, "tok-b3")
		ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
		defer cancel()
		resp, _ := h.Handle(ctx, batch(msg("m0", b[0], 1), msg("m1", b[1], 1)))
		job, _ := s.store.GetJob(s.ctx, "ade-0000000000b3")
		if got := failures(resp); !slices.Equal(got, []string{"m0", "m1"}) || job.Done != 0 {
			t.Fatalf("failures %v, done %d; want both failed, none done", got, job.Done)
		}
	})

	t.Run("concurrent completion signals once on moto", func(t *testing.T) {
		// Real Step Functions: the execution waits on the fan-out task.
		const id = "ade-0000000000b4"
		c := examina.Course{Code: "ADE", Name: "A", Language: "it"}
		exs := []examina.Exercise{{ID: "x0", Text: "Convertire 13 in binario.", Position: 0}, {ID: "x1", Text: "Convertire 14 in binario.", Position: 1}}
		if _, err := s.store.CreateJob(s.ctx, examina.Job{ID: id, Course: c, Status: examina.JobPending, Total: 2}, exs); err != nil {
			t.Fatal(err)
		}
		out, err := s.sfn.StartExecution(s.ctx, &sfn.StartExecutionInput{StateMachineArn: &s.st.StateMachineArn, Name: aws.String(id),
			Input: aws.String(`{"job_id":"` + id + `","course":"ADE"}`)})
		if err != nil {
			t.Fatal(err)
		}
		token := s.fanOutToken(aws.ToString(out.ExecutionArn))
		if _, err := s.store.StartFanOut(s.ctx, id, token); err != nil {
			t.Fatal(err)
		}
		bodies, _ := cloud.Tasks(examina.Job{ID: id, Course: c, Total: 2}, exs)
		counter := &countingSignaler{onCall: func(in *sfn.SendTaskSuccessInput) error {
			_, err := s.sfn.SendTaskSuccess(s.ctx, in)
			return err
		}}
		h := s.analyzeHandler(prov, counter)
		h.Concurrency = 4
		if err := s.srv.QueueLambdaResponse(s.ctx, `{"job_id":"`+id+`","status":"completed","result_key":"k","merged_groups":1,"topics":1,"core_loops":1}`); err != nil {
			t.Fatal(err)
		}
		resp, _ := h.Handle(s.ctx, batch(msg("a", bodies[0], 1), msg("b", bodies[1], 1), msg("a2", bodies[0], 1), msg("b2", bodies[1], 1)))
		if len(failures(resp)) != 0 || counter.count() != 1 {
			t.Fatalf("failures %v, SendTaskSuccess calls %d; want none, 1", failures(resp), counter.count())
		}
		if st := s.finish(aws.ToString(out.ExecutionArn)); st != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("execution status = %s", st)
		}
	})
}
