package cloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/bolt"
	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/simulated"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/storetest"
)

// simConfig is the deterministic simulated provider both runs use.
func simConfig() simulated.Config {
	return simulated.Config{Latency: 2 * time.Millisecond, Jitter: 3 * time.Millisecond, Seed: 7}
}

// TestEndToEnd runs examples/ade.json through the cloud path on moto (S3 upload,
// dispatch, the real state machine's fan-out task, SQS drained into analyze at
// concurrency = batch size, SendTaskSuccess, merge, GET) and compares the result with
// the local pipeline's for the same input and provider.
func TestEndToEnd(t *testing.T) {
	const batchSize = 10
	s := newStack(t)
	data := exampleFile(t, "ade.json")
	key := "input/ADE/ade.json"
	s.put(key, data)
	d := s.dispatcher()
	sim := simulated.New(simConfig())
	d.Provider, d.Model = sim.Name(), sim.Model()

	// 1. Dispatch on the S3 event: the job and its execution.
	if _, err := d.Handle(s.ctx, s.s3Event(key, "etag-ade")); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.store.ListJobs(s.ctx)
	if err != nil || len(jobs) != 1 || jobs[0].Status != examina.JobPending {
		t.Fatalf("jobs = %+v, %v", jobs, err)
	}
	id := jobs[0].ID
	execs, err := s.sfn.ListExecutions(s.ctx, &sfn.ListExecutionsInput{StateMachineArn: &s.st.StateMachineArn})
	if err != nil || len(execs.Executions) != 1 || aws.ToString(execs.Executions[0].Name) != id {
		t.Fatalf("executions = %+v, %v", execs, err)
	}
	exec := aws.ToString(execs.Executions[0].ExecutionArn)

	// 2. The state machine's fan-out task, with the token it scheduled.
	token := s.fanOutToken(exec)
	fanout, _ := json.Marshal(cloud.FanOutInput{Action: "fanout", JobID: id, TaskToken: token})
	if _, err := d.Handle(s.ctx, fanout); err != nil {
		t.Fatal(err)
	}

	// 3. Drain the queue into analyze: batchSize concurrent "invocations" of one
	// message each (the event source's batch size is 1), SendTaskSuccess on moto.
	h := &cloud.Analyze{Store: s.store, Signaler: s.sfn, MaxReceives: 3,
		Analyzer: func(context.Context) (*pipeline.Analyzer, error) {
			return &pipeline.Analyzer{Provider: sim, Policy: retry.DefaultPolicy()}, nil
		}}
	total := jobs[0].Total
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	invocations := 0
	for range batchSize {
		wg.Go(func() {
			idle := 0
			for idle < 3 {
				msgs := s.receive(1)
				if len(msgs) == 0 {
					if j, _ := s.store.GetJob(s.ctx, id); j.Done >= total {
						return
					}
					idle++
					time.Sleep(20 * time.Millisecond)
					continue
				}
				idle = 0
				resp, err := h.Handle(s.ctx, batch(msgs...))
				mu.Lock()
				invocations++
				if err != nil || len(resp.BatchItemFailures) > 0 {
					errs = append(errs, errors.Join(err, errors.New("failures: "+strings.Join(failures(resp), ","))))
				}
				mu.Unlock()
				s.settle(msgs, resp)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("analyze: %v", errs)
	}
	job, _ := s.store.GetJob(s.ctx, id)
	if job.Done != total || invocations != total {
		t.Fatalf("done %d, invocations %d; want %d", job.Done, invocations, total)
	}
	if got := sim.MaxInFlight(); got > batchSize || got < 2 {
		t.Errorf("max provider calls in flight = %d, want 2..%d", got, batchSize)
	}
	t.Logf("%d exercises, %d invocations, max in flight %d", total, invocations, sim.MaxInFlight())

	// 4. The task token completed the fan-out: the execution moved on to Merge (moto's
	// Lambda stub stands in for the merge function there); run the merge function.
	if st := s.finish(exec); st != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution = %s", st)
	}
	m := &cloud.Merger{Store: s.store, Objects: s.bucket}
	out, err := m.Merge(s.ctx, cloud.MergeInput{JobID: id})
	if err != nil {
		t.Fatal(err)
	}

	// 5. Read the result through the API.
	resp := d.HandleAPI(s.ctx, getRequest(id))
	var view cloud.JobView
	if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &view) != nil || view.Status != examina.JobCompleted || view.Result == nil {
		t.Fatalf("GET = %d %.300s", resp.StatusCode, resp.Body)
	}
	cloudRes := *view.Result

	// 6. The local pipeline on the same input with the same provider.
	cf, err := course.Parse(data, "ade.json", course.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := bolt.Open(s.ctx, t.TempDir(), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r := &pipeline.Runner{Store: store, BatchSize: batchSize, MinConfidence: 0.5,
		Analyzer: &pipeline.Analyzer{Provider: simulated.New(simConfig()), Policy: retry.DefaultPolicy(),
			Language: analysis.NormalizeLanguage(cf.Course.Language)}}
	local, err := r.Run(s.ctx, cf)
	if err != nil {
		t.Fatal(err)
	}

	normalize(&cloudRes)
	normalize(&local)
	if len(local.MergedExercises) == 0 || len(local.Topics) == 0 || len(local.CoreLoops) == 0 {
		t.Fatalf("local result is empty: %d groups, %d topics, %d loops", len(local.MergedExercises), len(local.Topics), len(local.CoreLoops))
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"merged groups", cloudRes.MergedExercises, local.MergedExercises},
		{"topics", cloudRes.Topics, local.Topics},
		{"core loops", cloudRes.CoreLoops, local.CoreLoops},
		{"exercises", cloudRes.Exercises, local.Exercises},
	} {
		if d := storetest.Diff(c.got, c.want); d != "" {
			t.Errorf("%s differ between cloud and local: %s", c.name, d)
		}
	}
	if cloudRes.Stats.MergedGroups != local.Stats.MergedGroups || cloudRes.Stats.Invalid != local.Stats.Invalid ||
		cloudRes.Stats.Exercises != local.Stats.Exercises || out.MergedGroups != local.Stats.MergedGroups {
		t.Errorf("stats: cloud %+v, local %+v", cloudRes.Stats, local.Stats)
	}
	t.Logf("cloud == local: %d exercises, %d merged groups, %d topics, %d core loops",
		len(local.Exercises), len(local.MergedExercises), len(local.Topics), len(local.CoreLoops))
}

// normalize clears what depends on timing (measured latencies) in a result document.
func normalize(r *examina.Result) {
	clear := func(a *examina.Analysis) {
		a.LatencyMS = 0
		for i := range a.AttemptLog {
			a.AttemptLog[i].LatencyMS = 0
		}
	}
	for i := range r.Exercises {
		clear(&r.Exercises[i].Analysis)
	}
	for i := range r.MergedExercises {
		clear(&r.MergedExercises[i].Analysis)
	}
}
