package cloud_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
)

// spyStore counts the analyze handler's cache reads and can fail ClaimSignal.
type spyStore struct {
	*dynamo.Store
	mu         sync.Mutex
	cacheGets  int
	claims     int
	failClaims int // fail this many ClaimSignal calls first (a crash before signalling)
}

func (s *spyStore) CacheGet(ctx context.Context, key string) (examina.Analysis, bool, error) {
	s.mu.Lock()
	s.cacheGets++
	s.mu.Unlock()
	return s.Store.CacheGet(ctx, key)
}

func (s *spyStore) ClaimSignal(ctx context.Context, jobID string) (string, bool, error) {
	s.mu.Lock()
	s.claims++
	fail := s.failClaims > 0
	if fail {
		s.failClaims--
	}
	s.mu.Unlock()
	if fail {
		return "", false, examina.E("spy.ClaimSignal", examina.KindTransient, "killed before claiming")
	}
	return s.Store.ClaimSignal(ctx, jobID)
}

// cacheCourse is the course every job of TestCacheAtFanOut analyses.
func cacheCourse() (examina.Course, []examina.Exercise) {
	c := examina.Course{Code: "ADE", Name: "Architettura degli elaboratori", Language: "it"}
	exs := make([]examina.Exercise, 3)
	for i := range exs {
		exs[i] = examina.Exercise{ID: fmt.Sprintf("c%d", i), Number: fmt.Sprint(i + 1), Position: i,
			Text: fmt.Sprintf("Esercizio %d: si progetti una rete sequenziale che riconosce la sequenza %b.", i, i+9)}
	}
	return c, exs
}

// fanOutTasks creates job id over the course, runs the dispatcher's fan-out and
// returns the messages it sent, by position.
func fanOutTasks(t *testing.T, s *stack, d *cloud.Dispatcher, id string) []events.SQSMessage {
	t.Helper()
	c, exs := cacheCourse()
	if _, err := s.store.CreateJob(s.ctx, examina.Job{ID: id, Course: c, Status: examina.JobPending, Total: len(exs)}, exs); err != nil {
		t.Fatal(err)
	}
	if err := d.FanOut(s.ctx, cloud.FanOutInput{Action: "fanout", JobID: id, TaskToken: "tok-" + id}); err != nil {
		t.Fatal(err)
	}
	msgs := make([]events.SQSMessage, len(exs))
	for n := 0; n < len(exs); {
		got := s.receive(10)
		if len(got) == 0 {
			t.Fatalf("%d of %d messages received", n, len(exs))
		}
		for _, m := range got {
			task, err := cloud.ParseTask(m.Body)
			if err != nil || task.JobID != id {
				t.Fatalf("message %+v: %v", task, err)
			}
			m.Attributes["ApproximateReceiveCount"] = "1"
			msgs[task.Position] = m
			n++
		}
		s.settle(got, events.SQSEventResponse{})
	}
	return msgs
}

func tasksOf(t *testing.T, msgs []events.SQSMessage) []cloud.Task {
	t.Helper()
	out := make([]cloud.Task, len(msgs))
	for i, m := range msgs {
		task, err := cloud.ParseTask(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = task
	}
	return out
}

// TestCacheAtFanOut: a first job analyses every exercise and writes the cache entries
// with its results; a second job of the same course finds them at fan-out, so its
// messages carry the analyses and analyze makes no provider call and no cache read;
// messages without a cache decision (an older dispatcher) still read the cache.
func TestCacheAtFanOut(t *testing.T) {
	s := newStack(t)
	d := s.dispatcher()
	prov := &flakyProvider{Provider: offline.New()}
	spy := &spyStore{Store: s.store}
	sig := &countingSignaler{}
	h := s.analyzeHandler(prov, sig)
	h.Store = spy
	statuses := func(id string) []examina.Status {
		rs, err := s.store.Results(s.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var out []examina.Status
		for _, r := range rs {
			out = append(out, r.Analysis.Status)
		}
		return out
	}
	totalCalls := func() int {
		prov.mu.Lock()
		defer prov.mu.Unlock()
		n := 0
		for _, c := range prov.calls {
			n += c
		}
		return n
	}

	// Job 1: a cold cache. Every message says "checked, miss".
	first := fanOutTasks(t, s, d, "ade-0000000000d1")
	for _, task := range tasksOf(t, first) {
		if !task.CacheChecked || task.Cached != nil {
			t.Fatalf("cold cache: message %d has checked %v, cached %v; want a miss decision", task.Position, task.CacheChecked, task.Cached != nil)
		}
	}
	if resp, _ := h.Handle(s.ctx, batch(first...)); len(failures(resp)) != 0 {
		t.Fatalf("failures %v", failures(resp))
	}
	if totalCalls() != 3 || spy.cacheGets != 0 || sig.count() != 1 {
		t.Fatalf("job 1: %d provider calls, %d cache reads, %d signals; want 3, 0, 1", totalCalls(), spy.cacheGets, sig.count())
	}
	if got := statuses("ade-0000000000d1"); !slices.Equal(got, []examina.Status{examina.StatusOK, examina.StatusOK, examina.StatusOK}) {
		t.Fatalf("job 1 statuses %v", got)
	}
	// The cache entries were written with the results, under the key the local
	// pipeline computes (analysis.CacheKey with the normalised language).
	for _, task := range tasksOf(t, first) {
		key := analysis.CacheKey(analysis.PromptVersion, offline.ProviderName, offline.ModelName, "it", task.Course, task.Exercise.Text, task.Previous)
		if got := cloud.CacheKey(offline.ProviderName, offline.ModelName, task); got != key {
			t.Fatalf("cloud.CacheKey = %s, analysis.CacheKey = %s", got, key)
		}
		if _, ok, err := s.store.CacheGet(s.ctx, key); err != nil || !ok {
			t.Fatalf("cache entry of position %d: %v, %v; want written by the counting transaction", task.Position, ok, err)
		}
	}

	// Job 2: the same course. Every message carries its analysis.
	second := fanOutTasks(t, s, d, "ade-0000000000d2")
	for _, task := range tasksOf(t, second) {
		if !task.CacheChecked || task.Cached == nil || task.Cached.Status != examina.StatusOK {
			t.Fatalf("warm cache: message %d has checked %v, cached %+v", task.Position, task.CacheChecked, task.Cached)
		}
	}
	if resp, _ := h.Handle(s.ctx, batch(second...)); len(failures(resp)) != 0 {
		t.Fatalf("failures %v", failures(resp))
	}
	if totalCalls() != 3 || spy.cacheGets != 0 || sig.count() != 2 {
		t.Fatalf("job 2: %d provider calls, %d cache reads, %d signals in all; want 3, 0, 2", totalCalls(), spy.cacheGets, sig.count())
	}
	if got := statuses("ade-0000000000d2"); !slices.Equal(got, []examina.Status{examina.StatusCached, examina.StatusCached, examina.StatusCached}) {
		t.Fatalf("job 2 statuses %v", got)
	}
	if j, _ := s.store.GetJob(s.ctx, "ade-0000000000d2"); j.Done != 3 {
		t.Fatalf("job 2 done %d", j.Done)
	}

	// Job 3: messages without a cache decision read the cache themselves.
	c, exs := cacheCourse()
	job3 := examina.Job{ID: "ade-0000000000d3", Course: c, Status: examina.JobPending, Total: len(exs)}
	if _, err := s.store.CreateJob(s.ctx, job3, exs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.StartFanOut(s.ctx, job3.ID, "tok-d3"); err != nil {
		t.Fatal(err)
	}
	bodies, err := cloud.Tasks(job3, exs)
	if err != nil {
		t.Fatal(err)
	}
	var old []events.SQSMessage
	for i, b := range bodies {
		var raw map[string]any
		if err := json.Unmarshal([]byte(b), &raw); err != nil {
			t.Fatal(err)
		}
		if _, ok := raw["cache_checked"]; ok {
			t.Fatalf("cloud.Tasks wrote a cache decision: %s", b)
		}
		old = append(old, msg(fmt.Sprintf("old-%d", i), b, 1))
	}
	if resp, _ := h.Handle(s.ctx, batch(old...)); len(failures(resp)) != 0 {
		t.Fatalf("failures %v", failures(resp))
	}
	if totalCalls() != 3 || spy.cacheGets != 3 {
		t.Fatalf("job 3: %d provider calls, %d cache reads; want 3 (none new), 3", totalCalls(), spy.cacheGets)
	}
	if got := statuses(job3.ID); !slices.Equal(got, []examina.Status{examina.StatusCached, examina.StatusCached, examina.StatusCached}) {
		t.Fatalf("job 3 statuses %v", got)
	}

	// NoCache: a cached analysis in the message is ignored and nothing is written.
	h.NoCache = true
	fourth := fanOutTasks(t, s, d, "ade-0000000000d4")
	if resp, _ := h.Handle(s.ctx, batch(fourth...)); len(failures(resp)) != 0 {
		t.Fatalf("failures %v", failures(resp))
	}
	if totalCalls() != 6 || spy.cacheGets != 3 {
		t.Fatalf("NoCache: %d provider calls, %d cache reads; want 6, 3", totalCalls(), spy.cacheGets)
	}
	if got := statuses("ade-0000000000d4"); !slices.Equal(got, []examina.Status{examina.StatusOK, examina.StatusOK, examina.StatusOK}) {
		t.Fatalf("NoCache statuses %v", got)
	}
}

// TestAnalyzeKilledBeforeClaim: the invocation that counts a job's last result dies
// before claiming the signal (here: ClaimSignal fails), so the message is redelivered;
// the redelivery is not counted again, claims the signal and signals exactly once.
func TestAnalyzeKilledBeforeClaim(t *testing.T) {
	s := newStack(t)
	spy := &spyStore{Store: s.store, failClaims: 1}
	sig := &countingSignaler{}
	h := s.analyzeHandler(offline.New(), sig)
	h.Store = spy
	const id = "ade-0000000000e1"
	b := analyzeJob(t, s, id, 2, "tok-e1")
	if resp, _ := h.Handle(s.ctx, batch(msg("m0", b[0], 1))); len(failures(resp)) != 0 || spy.claims != 0 {
		t.Fatalf("first result: failures %v, claims %d; want none, 0 (not the last)", failures(resp), spy.claims)
	}
	resp, _ := h.Handle(s.ctx, batch(msg("m1", b[1], 1)))
	if got := failures(resp); !slices.Equal(got, []string{"m1"}) || sig.count() != 0 {
		t.Fatalf("last result, claim failed: failures %v, signals %d; want [m1], 0", got, sig.count())
	}
	if j, _ := s.store.GetJob(s.ctx, id); j.Done != 2 {
		t.Fatalf("done %d after the last result, want 2 (CheckJob sees done == total)", j.Done)
	}
	for receive := 2; receive <= 3; receive++ {
		if resp, _ := h.Handle(s.ctx, batch(msg("m1", b[1], receive))); len(failures(resp)) != 0 {
			t.Fatalf("redelivery %d: failures %v", receive, failures(resp))
		}
	}
	if j, _ := s.store.GetJob(s.ctx, id); j.Done != 2 || sig.count() != 1 {
		t.Fatalf("after the redeliveries: done %d, signals %d; want 2, 1", j.Done, sig.count())
	}
}
