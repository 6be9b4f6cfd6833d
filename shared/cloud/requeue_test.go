package cloud

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

var now0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func TestPlanDefer(t *testing.T) {
	booked := &pipeline.DeferError{Wait: 12700 * time.Millisecond, Slot: "v1:1:2:3:4", Attempts: 0}
	server := &pipeline.DeferError{Wait: 30200 * time.Millisecond, Attempts: 2}
	earlier := &Deferral{Count: 2, Since: now0.Add(-10 * time.Minute), Attempts: 1, Slot: "old"}
	tests := []struct {
		name   string
		prior  *Deferral
		de     *pipeline.DeferError
		max    time.Duration
		resend bool
		delay  time.Duration
		want   Deferral
	}{
		{"a booked slot comes back just after it", nil, booked, time.Hour, true, 13 * time.Second, Deferral{Count: 1, Since: now0, Slot: booked.Slot}},
		{"a server's wait is rounded up", nil, server, time.Hour, true, 31 * time.Second, Deferral{Count: 1, Since: now0, Attempts: 2}},
		{"history accumulates, the slot is the new one", earlier, server, time.Hour, true, 31 * time.Second, Deferral{Count: 3, Since: earlier.Since, Attempts: 3}},
		{"no longer than SQS allows", nil, &pipeline.DeferError{Wait: time.Hour, Slot: "s"}, 2 * time.Hour, true, 15 * time.Minute, Deferral{Count: 1, Since: now0, Slot: "s"}},
		{"past the job's time it fails instead", earlier, server, 10 * time.Minute, false, 0, Deferral{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planDefer(now0, Task{JobID: "j", Deferral: tt.prior}, tt.de, tt.max, 0)
			if p.Resend != tt.resend || p.Delay != tt.delay {
				t.Fatalf("plan %+v, want resend %v after %v", p, tt.resend, tt.delay)
			}
			if tt.resend && *p.Task.Deferral != tt.want {
				t.Fatalf("deferral %+v, want %+v", *p.Task.Deferral, tt.want)
			}
		})
	}
}

// TestPlanDeferJitter: a wait without a slot (a server's Retry-After) comes back up to
// a tenth later (at most 5 s), so the exercises told the same reset spread out; a
// booked slot is kept exactly.
func TestPlanDeferJitter(t *testing.T) {
	tests := []struct {
		name   string
		de     *pipeline.DeferError
		jitter float64
		delay  time.Duration
	}{
		{"no jitter", &pipeline.DeferError{Wait: 30200 * time.Millisecond}, 0, 31 * time.Second},
		{"half of a tenth", &pipeline.DeferError{Wait: 30200 * time.Millisecond}, 0.5, 32 * time.Second}, // 30.2 + 1.51
		{"at most 5 s", &pipeline.DeferError{Wait: 10 * time.Minute}, 0.99, 10*time.Minute + 5*time.Second},
		{"a booked slot is not moved", &pipeline.DeferError{Wait: 12700 * time.Millisecond, Slot: "s"}, 0.99, 13 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p := planDefer(now0, Task{JobID: "j"}, tt.de, time.Hour, tt.jitter); p.Delay != tt.delay {
				t.Fatalf("delay %v, want %v", p.Delay, tt.delay)
			}
		})
	}
}

func TestRetryBackoff(t *testing.T) {
	tests := []struct {
		receive  int
		jitter   float64
		min, max time.Duration
	}{
		{1, 0, time.Second, time.Second},
		{1, 0.999, 2 * time.Second, 2 * time.Second},
		{2, 0.5, 3 * time.Second, 3 * time.Second},
		{3, 0.999, 8 * time.Second, 8 * time.Second},
		{9, 0.999, 30 * time.Second, 30 * time.Second}, // capped well below the queue's 900 s
	}
	for _, tt := range tests {
		if d := retryBackoff(tt.receive, func() float64 { return tt.jitter }); d < tt.min || d > tt.max {
			t.Errorf("retryBackoff(%d, %v) = %v, want in [%v, %v]", tt.receive, tt.jitter, d, tt.min, tt.max)
		}
	}
}

// memStore counts results in memory.
type memStore struct {
	mu      sync.Mutex
	results map[int]examina.ExerciseResult
}

func (m *memStore) CountResult(_ context.Context, _ string, r examina.ExerciseResult, total int, _ string, _ *examina.Analysis) (bool, int, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.results[r.Exercise.Position]; ok {
		return false, -1, total, nil
	}
	m.results[r.Exercise.Position] = r
	return true, -1, total, nil
}
func (m *memStore) ClaimSignal(context.Context, string) (string, bool, error) { return "", false, nil }
func (m *memStore) ReleaseSignal(context.Context, string) error               { return nil }
func (m *memStore) CacheGet(context.Context, string) (examina.Analysis, bool, error) {
	return examina.Analysis{}, false, nil
}

// fakeQueue records what the handler put back on the queue.
type fakeQueue struct {
	sent       []*sqs.SendMessageInput
	visibility []int32
}

func (q *fakeQueue) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	q.sent = append(q.sent, in)
	return &sqs.SendMessageOutput{}, nil
}
func (q *fakeQueue) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	q.visibility = append(q.visibility, in.VisibilityTimeout)
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// slotGate defers the first call of every exercise with a booked slot, and admits a
// call that brings it back; it records which calls came marked as retries.
type slotGate struct {
	slots   []string
	retries []bool
}

func (g *slotGate) Acquire(context.Context, int) error { return nil }
func (g *slotGate) Release(examina.Response, error)    {}
func (g *slotGate) Reserve(ctx context.Context, _ int) (func(examina.Response, error), error) {
	s := pipeline.SlotFrom(ctx)
	g.slots = append(g.slots, s)
	g.retries = append(g.retries, pipeline.IsRetry(ctx))
	if s == "" {
		return nil, &pipeline.DeferError{Wait: 40 * time.Second, Reason: "budget", Slot: "v1:9:9:9:0"}
	}
	return func(examina.Response, error) {}, nil
}

type failingProvider struct{}

func (failingProvider) Name() string  { return "failing" }
func (failingProvider) Model() string { return "m" }
func (failingProvider) Complete(context.Context, examina.Request) (examina.Response, error) {
	return examina.Response{}, &examina.ProviderError{Provider: "failing", Kind: examina.KindTransient, HTTPStatus: 500, Reason: "server_error"}
}

// TestHandleDefersAndBacksOff: a far rate-limit slot re-sends the message delayed
// (the original is done with, so no receive is used up), the re-sent copy is analysed
// in its slot; a transient failure comes back after seconds, not 900.
func TestHandleDefersAndBacksOff(t *testing.T) {
	task := Task{JobID: "j1", Course: examina.Course{Code: "ADE", Language: "en"}, Position: 0, Total: 2,
		Exercise: examina.Exercise{ID: "e0", Position: 0, Text: "Design a Moore machine recognising 101."}}
	body, _ := json.Marshal(task)
	store, q, gate := &memStore{results: map[int]examina.ExerciseResult{}}, &fakeQueue{}, &slotGate{}
	policy := retry.Policy{MaxRetries: 1, Base: time.Millisecond, Cap: time.Millisecond}
	var provider examina.Provider = offline.New()
	h := &Analyze{Store: store, Requeue: q, QueueURL: "https://sqs/q", MaxWait: 3 * time.Second,
		Now: func() time.Time { return now0 }, Jitter: func() float64 { return 0 },
		Analyzer: func(context.Context) (*pipeline.Analyzer, error) {
			return &pipeline.Analyzer{Provider: provider, Policy: policy, Gate: gate, Clock: noSleep{}}, nil
		}}
	first := events.SQSMessage{MessageId: "m1", ReceiptHandle: "r1", Body: string(body), Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
	resp, _ := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{first}})
	if len(resp.BatchItemFailures) != 0 || len(q.sent) != 1 || q.sent[0].DelaySeconds != 40 || len(store.results) != 0 {
		t.Fatalf("deferral: failures %v, sent %d (delay %v), results %d; want the message re-sent with 40 s delay, none failed",
			resp.BatchItemFailures, len(q.sent), q.sent, len(store.results))
	}
	again := events.SQSMessage{MessageId: "m2", ReceiptHandle: "r2", Body: *q.sent[0].MessageBody, Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
	resp, _ = h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{again}})
	if len(resp.BatchItemFailures) != 0 || len(store.results) != 1 || !slices.Equal(gate.slots, []string{"", "v1:9:9:9:0"}) {
		t.Fatalf("the re-sent copy: failures %v, results %d, slots seen %q", resp.BatchItemFailures, len(store.results), gate.slots)
	}
	if st := store.results[0].Analysis.Meta.Status; st != examina.StatusOK {
		t.Fatalf("the deferred exercise ended %q, want ok (deferrals never degrade)", st)
	}

	// A transient failure: reported failed, visible again after a short backoff.
	provider = failingProvider{}
	h.analyzer = nil
	task.Position, task.Exercise.Position, task.Exercise.ID = 1, 1, "e1"
	task.Deferral = &Deferral{Count: 1, Since: now0, Slot: "v1:9:9:9:0"}
	body, _ = json.Marshal(task)
	msg := events.SQSMessage{MessageId: "m3", ReceiptHandle: "r3", Body: string(body), Attributes: map[string]string{"ApproximateReceiveCount": "2"}}
	resp, _ = h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{msg}})
	if len(resp.BatchItemFailures) != 1 || !slices.Equal(q.visibility, []int32{2}) {
		t.Fatalf("transient failure: failures %v, visibility set to %v; want failed and back in 2 s", resp.BatchItemFailures, q.visibility)
	}
	// Only the redelivered message (second receive) calls as a retry, for the budget
	// to give it a slot a failed call left unused.
	if want := []bool{false, false, true, true}; !slices.Equal(gate.retries, want) {
		t.Fatalf("calls marked as retries %v, want %v", gate.retries, want)
	}
	// A deferred copy whose earlier delivery made calls that did not succeed (a
	// retry's backoff deferred) calls as a retry too, on its first receive.
	provider, h.analyzer, gate.retries = offline.New(), nil, nil
	task.Deferral = &Deferral{Count: 1, Since: now0, Attempts: 1}
	body, _ = json.Marshal(task)
	h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m4", ReceiptHandle: "r4", Body: string(body),
		Attributes: map[string]string{"ApproximateReceiveCount": "1"}}}})
	if len(gate.retries) == 0 || !gate.retries[0] {
		t.Fatalf("a deferred retry's calls marked as retries: %v, want true", gate.retries)
	}
	if _, err := ParseTask(`{"job_id":"j","position":0,"total":1,"exercise":{"position":0},"deferral":{"count":0}}`); err == nil {
		t.Fatal("a deferral with count 0 was accepted")
	}
}

type noSleep struct{}

func (noSleep) Now() time.Time                                   { return now0 }
func (noSleep) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }
