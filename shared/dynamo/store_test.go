package dynamo_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
	"github.com/examina-dev/examina-serverless/shared/testkit/storetest"
)

// fakeClock advances only when slept on.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return ctx.Err()
}

var tableSeq atomic.Int64

// newTable creates a fresh table on srv and returns its name.
func newTable(t *testing.T, srv *mototest.Server) string {
	t.Helper()
	name := fmt.Sprintf("t%d", tableSeq.Add(1))
	if err := srv.CreateTable(t.Context(), name); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	return name
}

type env struct {
	srv    *mototest.Server
	client *dynamodb.Client
}

func setup(t *testing.T) env {
	srv := mototest.Start(t)
	return env{srv: srv, client: dynamodb.NewFromConfig(srv.AWSConfig(t.Context()))}
}

func (e env) store(t *testing.T) *dynamo.Store {
	s := dynamo.New(mototest.NewSerialDynamoDB(e.client, new(sync.Mutex)), newTable(t, e.srv))
	s.Clock = &fakeClock{now: time.Date(2025, 6, 14, 9, 0, 0, 0, time.UTC)}
	return s
}

func TestConformance(t *testing.T) {
	e := setup(t)
	storetest.Run(t, func(t *testing.T) examina.Store { return dynamo.New(e.client, newTable(t, e.srv)) })
}

func job(id string, total int) examina.Job {
	return examina.Job{ID: id, Course: examina.Course{Code: "ADE", Name: "Architettura", Language: "it"},
		Provider: "simulated", Model: "sim-1", PromptVersion: "v1", Status: examina.JobPending, Total: total,
		CreatedAt: time.Date(2025, 6, 14, 9, 0, 0, 0, time.UTC)}
}

func exercises(n int) []examina.Exercise {
	out := make([]examina.Exercise, n)
	for i := range out {
		out[i] = examina.Exercise{ID: fmt.Sprintf("ade-%03d", i), Number: fmt.Sprint(i + 1), Text: fmt.Sprintf("text %d", i), Position: i}
	}
	return out
}

func TestCloudOperations(t *testing.T) {
	e := setup(t)
	ctx := t.Context()

	t.Run("CreateJobIdempotent", func(t *testing.T) {
		s := e.store(t)
		exs := exercises(30) // more than one BatchWriteItem call
		created, err := s.CreateJob(ctx, job("ade-1", 30), exs)
		if err != nil || !created {
			t.Fatalf("CreateJob = %v, %v; want created", created, err)
		}
		changed := job("ade-1", 99)
		created, err = s.CreateJob(ctx, changed, exs)
		if err != nil || created {
			t.Fatalf("CreateJob (duplicate) = %v, %v; want not created, no error", created, err)
		}
		got, err := s.GetJob(ctx, "ade-1")
		if err != nil || got.Total != 30 {
			t.Fatalf("GetJob = total %d, %v; want the first job (30)", got.Total, err)
		}
		gotEx, err := s.Exercises(ctx, "ade-1")
		if err != nil {
			t.Fatal(err)
		}
		if d := storetest.Diff(gotEx, exs); d != "" {
			t.Fatalf("Exercises: %s", d)
		}
	})

	t.Run("RecordResultCountsOnce", func(t *testing.T) {
		s := e.store(t)
		if _, err := s.CreateJob(ctx, job("j", 3), exercises(3)); err != nil {
			t.Fatal(err)
		}
		ok := storetest.Result(0)
		deg := storetest.Result(1)
		deg.Analysis = examina.DefaultAnalysis("boom")
		steps := []struct {
			r           examina.ExerciseResult
			counted     bool
			done, total int
		}{
			{ok, true, 1, 3},
			{ok, false, 1, 3}, // redelivery
			{deg, true, 2, 3},
			{deg, false, 2, 3},
		}
		for i, st := range steps {
			counted, done, total, err := s.RecordResult(ctx, "j", st.r)
			if err != nil || counted != st.counted || done != st.done || total != st.total {
				t.Fatalf("step %d: RecordResult = %v, %d/%d, %v; want %v, %d/%d", i, counted, done, total, err, st.counted, st.done, st.total)
			}
		}
		j, err := s.GetJob(ctx, "j")
		if err != nil || j.Degraded != 1 {
			t.Fatalf("job degraded = %d, %v; want 1", j.Degraded, err)
		}
		rs, err := s.Results(ctx, "j")
		if err != nil || len(rs) != 2 {
			t.Fatalf("Results = %d, %v; want 2", len(rs), err)
		}
		_, _, _, err = s.RecordResult(ctx, "missing", ok)
		if !examina.IsNotFound(err) {
			t.Fatalf("RecordResult of a missing job: %v, want not found", err)
		}
		if rs, _ := s.Results(ctx, "missing"); len(rs) != 0 {
			t.Fatalf("RecordResult of a missing job stored a result")
		}
	})

	t.Run("ConcurrentRecordAndSignal", func(t *testing.T) {
		s := e.store(t)
		const n = 12
		if _, err := s.CreateJob(ctx, job("c", n), exercises(n)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.StartFanOut(ctx, "c", "token-c"); err != nil {
			t.Fatal(err)
		}
		var wins, counted atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range 2 * n { // every result delivered twice
			wg.Go(func() {
				c, done, total, err := s.RecordResult(ctx, "c", storetest.Result(i%n))
				if err != nil {
					errs <- err
					return
				}
				if c {
					counted.Add(1)
				}
				if done >= total {
					tok, won, err := s.ClaimSignal(ctx, "c")
					if err != nil {
						errs <- err
						return
					}
					if won {
						wins.Add(1)
						if tok != "token-c" {
							errs <- fmt.Errorf("token = %q", tok)
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if counted.Load() != n || wins.Load() != 1 {
			t.Fatalf("counted %d, wins %d; want %d, 1", counted.Load(), wins.Load(), n)
		}
		j, _ := s.GetJob(ctx, "c")
		if j.Done != n || j.Status != examina.JobRunning {
			t.Fatalf("job = done %d status %s", j.Done, j.Status)
		}
		if err := s.ReleaseSignal(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		if _, won, err := s.ClaimSignal(ctx, "c"); err != nil || !won {
			t.Fatalf("ClaimSignal after release = %v, %v; want won", won, err)
		}
	})

	t.Run("ClaimSignalBeforeDone", func(t *testing.T) {
		s := e.store(t)
		if _, err := s.CreateJob(ctx, job("p", 2), exercises(2)); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := s.RecordResult(ctx, "p", storetest.Result(0)); err != nil {
			t.Fatal(err)
		}
		if _, won, err := s.ClaimSignal(ctx, "p"); err != nil || won {
			t.Fatalf("ClaimSignal with 1/2 done = %v, %v; want not won", won, err)
		}
	})

	t.Run("StartFanOutStates", func(t *testing.T) {
		s := e.store(t)
		if _, err := s.StartFanOut(ctx, "nope", "tok"); !examina.IsNotFound(err) {
			t.Fatalf("StartFanOut of a missing job: %v", err)
		}
		rej := job("r", 0)
		rej.Status = examina.JobRejected
		if _, err := s.CreateJob(ctx, rej, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.StartFanOut(ctx, "r", "tok"); examina.KindOf(err) != examina.KindConflict {
			t.Fatalf("StartFanOut of a rejected job: %v, want conflict", err)
		}
		if _, err := s.CreateJob(ctx, job("ok", 1), exercises(1)); err != nil {
			t.Fatal(err)
		}
		j, err := s.StartFanOut(ctx, "ok", "tok")
		if err != nil || j.Status != examina.JobRunning {
			t.Fatalf("StartFanOut = %s, %v", j.Status, err)
		}
		// The job completes and the claim is won with the first token; then the state
		// machine retries the fan-out task with a new token: the new token can be
		// claimed and signalled.
		if _, _, _, err := s.RecordResult(ctx, "ok", storetest.Result(0)); err != nil {
			t.Fatal(err)
		}
		if tok, won, err := s.ClaimSignal(ctx, "ok"); err != nil || !won || tok != "tok" {
			t.Fatalf("first claim = %q, %v, %v", tok, won, err)
		}
		if _, err := s.StartFanOut(ctx, "ok", "tok-retry"); err != nil {
			t.Fatal(err)
		}
		if tok, won, err := s.ClaimSignal(ctx, "ok"); err != nil || !won || tok != "tok-retry" {
			t.Fatalf("claim after a retried fan-out = %q, %v, %v; want the new token won", tok, won, err)
		}
	})

	t.Run("MergedAndComplete", func(t *testing.T) {
		s := e.store(t)
		if _, err := s.CreateJob(ctx, job("m", 3), exercises(3)); err != nil {
			t.Fatal(err)
		}
		out := storetest.Output("m")
		out.CoreLoops = append(out.CoreLoops, examina.CoreLoop{ID: "second", Name: "Second"})
		if err := s.PutMerged(ctx, out); err != nil {
			t.Fatal(err)
		}
		m, tp, l, err := s.Merged(ctx, "m")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name      string
			got, want any
		}{{"merged", m, out.MergedExercises}, {"topics", tp, out.Topics}, {"loops", l, []examina.CoreLoop{out.CoreLoops[0], out.CoreLoops[1]}}} {
			if d := storetest.Diff(c.got, c.want); d != "" {
				t.Fatalf("%s: %s", c.name, d)
			}
		}
		// A second merge with fewer items removes the stale ones.
		out2 := storetest.Output("m")
		out2.MergedExercises = out2.MergedExercises[:1]
		if err := s.PutMerged(ctx, out2); err != nil {
			t.Fatal(err)
		}
		m, _, l, err = s.Merged(ctx, "m")
		if err != nil || len(m) != 1 || len(l) != 1 {
			t.Fatalf("after re-merge: %d merged, %d loops, %v; want 1, 1", len(m), len(l), err)
		}
		if err := s.CompleteJob(ctx, "m", "results/ADE/m.json"); err != nil {
			t.Fatal(err)
		}
		j, _ := s.GetJob(ctx, "m")
		key, err := s.ResultKey(ctx, "m")
		if j.Status != examina.JobCompleted || key != "results/ADE/m.json" || err != nil {
			t.Fatalf("after CompleteJob: status %s, key %q, %v", j.Status, key, err)
		}
		if err := s.CompleteJob(ctx, "zzz", "k"); !examina.IsNotFound(err) {
			t.Fatalf("CompleteJob of a missing job: %v", err)
		}
	})

	t.Run("LargeOutputInChunks", func(t *testing.T) {
		s := e.store(t)
		out := storetest.Output("big")
		rng := rand.New(rand.NewPCG(1, 2))
		raw := make([]byte, 900_000)
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		out.MergedExercises[0].Text = base64.StdEncoding.EncodeToString(raw) // ~900 KB gzip'd: 3 chunks
		if err := s.PutOutput(ctx, out); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetOutput(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		if d := storetest.Diff(got, out); d != "" {
			t.Fatalf("large output: %s", d)
		}
		small := storetest.Output("big")
		if err := s.PutOutput(ctx, small); err != nil {
			t.Fatal(err)
		}
		if got, err = s.GetOutput(ctx, "big"); err != nil {
			t.Fatalf("GetOutput after shrinking: %v", err)
		}
		if d := storetest.Diff(got, small); d != "" {
			t.Fatalf("shrunk output: %s", d)
		}
	})

	t.Run("CacheExpiry", func(t *testing.T) {
		s := e.store(t)
		clock := s.Clock.(*fakeClock)
		if err := s.CachePut(ctx, "k", storetest.Result(0).Analysis); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := s.CacheGet(ctx, "k"); !ok || err != nil {
			t.Fatalf("CacheGet = %v, %v", ok, err)
		}
		_ = clock.Sleep(ctx, dynamo.DefaultCacheTTL+time.Second)
		if _, ok, err := s.CacheGet(ctx, "k"); ok || err != nil {
			t.Fatalf("CacheGet after the TTL = %v, %v; want a miss", ok, err)
		}
	})
}

// flaky wraps a real client: BatchWriteItem leaves the last item of its first calls
// unprocessed, TransactWriteItems is cancelled by conflicts a few times.
type flaky struct {
	*dynamodb.Client
	mu                       sync.Mutex
	unprocessed, conflicts   int
	batchCalls, transactions int
}

func (f *flaky) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	f.mu.Lock()
	f.batchCalls++
	drop := f.unprocessed > 0
	if drop {
		f.unprocessed--
	}
	f.mu.Unlock()
	if !drop {
		return f.Client.BatchWriteItem(ctx, in, opts...)
	}
	for table, reqs := range in.RequestItems {
		out := &dynamodb.BatchWriteItemOutput{}
		if len(reqs) > 1 {
			var err error
			out, err = f.Client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs[:len(reqs)-1]}}, opts...)
			if err != nil {
				return nil, err
			}
		}
		out.UnprocessedItems = map[string][]types.WriteRequest{table: reqs[len(reqs)-1:]}
		return out, nil
	}
	return f.Client.BatchWriteItem(ctx, in, opts...)
}

func (f *flaky) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.mu.Lock()
	f.transactions++
	conflict := f.conflicts > 0
	if conflict {
		f.conflicts--
	}
	f.mu.Unlock()
	if conflict {
		return nil, &types.TransactionCanceledException{Message: aws.String("conflict"), CancellationReasons: []types.CancellationReason{
			{Code: aws.String("None")}, {Code: aws.String("TransactionConflict")}}}
	}
	return f.Client.TransactWriteItems(ctx, in, opts...)
}

func TestRetries(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	f := &flaky{Client: e.client, unprocessed: 3, conflicts: 2}
	table := newTable(t, e.srv)
	s := dynamo.New(f, table)
	clock := &fakeClock{now: time.Date(2025, 6, 14, 9, 0, 0, 0, time.UTC)}
	s.Clock = clock
	if _, err := s.CreateJob(ctx, job("r", 5), exercises(5)); err != nil {
		t.Fatal(err)
	}
	exs, err := s.Exercises(ctx, "r")
	if err != nil || len(exs) != 5 {
		t.Fatalf("Exercises = %d, %v; want 5 after retrying unprocessed items", len(exs), err)
	}
	if f.batchCalls != 4 {
		t.Errorf("BatchWriteItem calls = %d, want 4 (1 + 3 retries)", f.batchCalls)
	}
	counted, done, _, err := s.RecordResult(ctx, "r", storetest.Result(0))
	if err != nil || !counted || done != 1 {
		t.Fatalf("RecordResult after conflicts = %v, %d, %v", counted, done, err)
	}
	if f.transactions != 3 {
		t.Errorf("TransactWriteItems calls = %d, want 3", f.transactions)
	}
	if len(clock.slept) != 5 {
		t.Errorf("backoff sleeps = %v, want 5", clock.slept)
	}

	// Unprocessed forever: a transient error after MaxAttempts.
	f2 := &flaky{Client: e.client, unprocessed: 100}
	s2 := dynamo.New(f2, table)
	s2.Clock = clock
	s2.MaxAttempts = 3
	_, err = s2.CreateJob(ctx, job("r2", 5), exercises(5))
	if examina.KindOf(err) != examina.KindTransient {
		t.Fatalf("CreateJob with items never processed: %v, want transient", err)
	}
	if _, err := s2.GetJob(ctx, "r2"); !examina.IsNotFound(err) {
		t.Fatalf("a job whose exercises failed to write was recorded: %v", err)
	}
	var pe *examina.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error is not an *examina.Error: %T", err)
	}
}
