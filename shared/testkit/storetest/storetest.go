// Package storetest is the conformance suite every examina.Store must pass: the embedded
// bbolt store, the DynamoDB store (against moto) and any in-memory fake run the same
// tests, so the pipeline can rely on one behaviour whatever the backend.
//
// The suite uses only the examina.Store interface. Beyond the interface's own comments it
// pins down these rules, which every implementation must follow:
//
//   - Every method returns an error wrapping ctx.Err() when called with a cancelled
//     context, and writes nothing.
//   - GetJob and GetOutput of a missing item return an error for which examina.IsNotFound
//     is true; CacheGet of a missing key returns ok == false and a nil error.
//   - ListJobs returns jobs newest first by CreatedAt (compared as instants); jobs created
//     at the same instant are ordered by id, ascending.
//   - Results returns a job's results in ascending numeric Position order whatever the
//     insertion order, never another job's results (even when one job id is a prefix of
//     another), and a non-nil empty slice when there are none. PutResult at an existing
//     position replaces that result. DeleteResults of a job with no results succeeds.
//   - Values are copied: mutating a value after Put, or a value returned by a Get, never
//     changes what the store holds.
//   - An empty job id, an empty cache key or a negative position is rejected with an
//     error of kind examina.KindInvalid.
//   - Concurrent calls from many goroutines are safe.
//
// Round trips are compared with two normalisations, because stores serialise values
// (JSON, DynamoDB attribute values) and cannot all keep these distinctions: a nil slice
// and an empty slice are equal (callers must test len, never nil), and two time.Time
// values are equal when they denote the same instant (the location may differ).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// Run runs the conformance suite against the stores returned by open. open is called
// once per subtest and must return a new, empty store; it should register any cleanup
// (closing the store, deleting a table) with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) examina.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s examina.Store)
	}{
		{"JobPutGet", testJobPutGet},
		{"JobReplace", testJobReplace},
		{"JobNotFound", testJobNotFound},
		{"ListJobsEmpty", testListJobsEmpty},
		{"ListJobsNewestFirst", testListJobsNewestFirst},
		{"ResultsEmpty", testResultsEmpty},
		{"ResultsPositionOrder", testResultsPositionOrder},
		{"ResultReplace", testResultReplace},
		{"ResultsIsolatedByJob", testResultsIsolatedByJob},
		{"DeleteResults", testDeleteResults},
		{"OutputRoundTrip", testOutputRoundTrip},
		{"OutputReplace", testOutputReplace},
		{"OutputNotFound", testOutputNotFound},
		{"Cache", testCache},
		{"ValuesCopied", testValuesCopied},
		{"InvalidInput", testInvalidInput},
		{"ConcurrentPutResult", testConcurrentPutResult},
		{"CancelledContext", testCancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil store")
			}
			tc.run(t, s)
		})
	}
}

// base is the fixed instant the suite's timestamps are built from.
var base = time.Date(2025, 6, 14, 9, 30, 15, 123456789, time.UTC)

// Job returns a fully populated job with the given id and creation time. It is exported
// so implementation-specific tests can share the suite's fixtures.
func Job(id string, created time.Time) examina.Job {
	return examina.Job{
		ID:            id,
		Course:        examina.Course{Code: "ADE", Name: "Architettura degli Elaboratori", Language: "it"},
		Provider:      "groq",
		Model:         "llama-3.3-70b-versatile",
		PromptVersion: "v3",
		Status:        examina.JobRunning,
		Total:         27,
		Done:          11,
		Degraded:      2,
		Reason:        "two exercises degraded",
		Problems:      []string{"exercise 4: empty text", "exercise 9: duplicate id"},
		Source:        "s3://bucket/inputs/ADE.json",
		CreatedAt:     created,
		UpdatedAt:     created.Add(90 * time.Second),
	}
}

// Result returns a fully populated exercise result at position pos, including nested
// run metadata and an attempt log.
func Result(pos int) examina.ExerciseResult {
	return examina.ExerciseResult{
		Exercise: examina.Exercise{
			ID:       fmt.Sprintf("ex-%d", pos),
			Number:   fmt.Sprintf("%d.a", pos+1),
			Text:     fmt.Sprintf("Esercizio %d: progettare un automa di Moore che riconosce 1011.", pos),
			Page:     pos/3 + 1,
			Source:   "ADE-2023-06.pdf",
			Position: pos,
		},
		Analysis: examina.Analysis{
			IsValidExercise:         true,
			IsFragment:              pos%2 == 1,
			ShouldMergeWithPrevious: pos%2 == 1,
			Topic:                   "Finite state machines",
			CoreLoopName:            "Moore machine design",
			CoreLoopID:              "moore_machine_design",
			Procedure:               []string{"Draw the state diagram", "Encode the states", "Derive the output table"},
			Difficulty:              examina.DifficultyMedium,
			Variations:              []string{"Mealy variant"},
			Confidence:              0.875,
			Meta: examina.Meta{
				Status:       examina.StatusOK,
				Attempts:     2,
				Provider:     "groq",
				Model:        "llama-3.3-70b-versatile",
				LatencyMS:    1234,
				InputTokens:  812,
				OutputTokens: 233,
				WaitMS:       500,
				Error:        "",
				AttemptLog: []examina.Attempt{
					{N: 1, HTTPStatus: 429, Outcome: "rate_limited", LatencyMS: 80, WaitMS: 500, Error: "rate limit"},
					{N: 2, HTTPStatus: 200, Outcome: "ok", LatencyMS: 1154, InputTokens: 812, OutputTokens: 233},
				},
			},
		},
	}
}

// Output returns a fully populated result document for job id.
func Output(id string) examina.Result {
	ex0, ex1, ex2 := Result(0), Result(1), Result(2)
	degraded := examina.DefaultAnalysis("provider: HTTP 400: bad request")
	degraded.Heuristic = true
	ex2.Analysis = degraded
	return examina.Result{
		JobID:         id,
		Course:        examina.Course{Code: "ADE", Name: "Architettura degli Elaboratori", Language: "it"},
		Provider:      "groq",
		Model:         "llama-3.3-70b-versatile",
		PromptVersion: "v3",
		MinConfidence: 0.5,
		Stats: examina.Stats{
			Exercises: 3, Analyzed: 2, Degraded: 1, Invalid: 0, MergedGroups: 2,
			LowConfidenceSkipped: 1, ProviderCalls: 5, Retries: 2, CacheHits: 1, Resumed: 0,
			InputTokens: 2400, OutputTokens: 700, WaitMS: 1500, ElapsedMS: 4200,
		},
		Exercises: []examina.ExerciseResult{ex0, ex1, ex2},
		MergedExercises: []examina.MergedExercise{
			{ID: ex0.ID, Position: 0, MergedFrom: []string{ex0.ID, ex1.ID}, Text: ex0.Text + "\n\n" + ex1.Text, Analysis: ex0.Analysis},
			{ID: ex2.ID, Position: 2, MergedFrom: []string{ex2.ID}, Text: ex2.Text, Analysis: ex2.Analysis},
		},
		Topics: []examina.Topic{{Name: "Finite state machines", ExerciseCount: 1, CoreLoops: []string{"moore_machine_design"}}},
		CoreLoops: []examina.CoreLoop{{
			ID: "moore_machine_design", Name: "Moore machine design", Topic: "Finite state machines",
			Procedure: []string{"Draw the state diagram", "Encode the states"}, ExerciseCount: 1, Exercises: []string{ex0.ID},
		}},
	}
}

func testJobPutGet(t *testing.T, s examina.Store) {
	ctx := t.Context()
	jobs := []examina.Job{
		Job("job-1", base),
		Job("job-2", base.In(time.FixedZone("CEST", 2*3600))),
		{ID: "minimal", Status: examina.JobPending}, // zero times, nil slices
	}
	for _, j := range jobs {
		mustNil(t, s.PutJob(ctx, j), "PutJob %q", j.ID)
	}
	for _, want := range jobs {
		got, err := s.GetJob(ctx, want.ID)
		mustNil(t, err, "GetJob %q", want.ID)
		mustEqual(t, got, want, "GetJob %q", want.ID)
	}
}

func testJobReplace(t *testing.T, s examina.Store) {
	ctx := t.Context()
	j := Job("job-1", base)
	mustNil(t, s.PutJob(ctx, j), "PutJob")
	j.Status, j.Done, j.Problems, j.UpdatedAt = examina.JobCompleted, 27, nil, base.Add(time.Hour)
	mustNil(t, s.PutJob(ctx, j), "PutJob (replace)")
	got, err := s.GetJob(ctx, "job-1")
	mustNil(t, err, "GetJob")
	mustEqual(t, got, j, "GetJob after replace")
	list, err := s.ListJobs(ctx)
	mustNil(t, err, "ListJobs")
	if len(list) != 1 {
		t.Fatalf("ListJobs after replace: %d jobs, want 1", len(list))
	}
}

func testJobNotFound(t *testing.T, s examina.Store) {
	ctx := t.Context()
	mustNil(t, s.PutJob(ctx, Job("job1", base)), "PutJob")
	for _, id := range []string{"unknown", "job", "job10"} {
		_, err := s.GetJob(ctx, id)
		if !examina.IsNotFound(err) {
			t.Errorf("GetJob(%q) error = %v (kind %v), want not found", id, err, examina.KindOf(err))
		}
	}
}

func testListJobsEmpty(t *testing.T, s examina.Store) {
	list, err := s.ListJobs(t.Context())
	mustNil(t, err, "ListJobs")
	if len(list) != 0 {
		t.Fatalf("ListJobs on an empty store = %d jobs, want 0", len(list))
	}
}

func testListJobsNewestFirst(t *testing.T, s examina.Store) {
	ctx := t.Context()
	// Inserted in scrambled order; "b" and "a" share an instant (one of them in another zone).
	put := []examina.Job{
		Job("mid-b", base.Add(time.Minute)),
		Job("oldest", base),
		Job("newest", base.Add(time.Hour)),
		Job("mid-a", base.Add(time.Minute).In(time.FixedZone("CEST", 2*3600))),
		Job("older", base.Add(time.Nanosecond)),
	}
	for _, j := range put {
		mustNil(t, s.PutJob(ctx, j), "PutJob %q", j.ID)
	}
	list, err := s.ListJobs(ctx)
	mustNil(t, err, "ListJobs")
	want := []string{"newest", "mid-a", "mid-b", "older", "oldest"}
	if got := jobIDs(list); !reflect.DeepEqual(got, want) {
		t.Fatalf("ListJobs order = %v, want %v", got, want)
	}
	for _, j := range list {
		for _, p := range put {
			if p.ID == j.ID {
				mustEqual(t, j, p, "ListJobs item %q", j.ID)
			}
		}
	}
}

func testResultsEmpty(t *testing.T, s examina.Store) {
	ctx := t.Context()
	mustNil(t, s.PutResult(ctx, "other", Result(0)), "PutResult")
	rs, err := s.Results(ctx, "job-none")
	mustNil(t, err, "Results")
	if rs == nil || len(rs) != 0 {
		t.Fatalf("Results of a job with none = %#v, want a non-nil empty slice", rs)
	}
}

func testResultsPositionOrder(t *testing.T, s examina.Store) {
	ctx := t.Context()
	positions := []int{10, 2, 1000, 0, 99, 100, 9, 1}
	for _, p := range positions {
		mustNil(t, s.PutResult(ctx, "job", Result(p)), "PutResult %d", p)
	}
	rs, err := s.Results(ctx, "job")
	mustNil(t, err, "Results")
	want := []int{0, 1, 2, 9, 10, 99, 100, 1000}
	if got := positionsOf(rs); !reflect.DeepEqual(got, want) {
		t.Fatalf("Results positions = %v, want %v", got, want)
	}
	for _, r := range rs {
		mustEqual(t, r, Result(r.Position), "Results item at %d", r.Position)
	}
}

func testResultReplace(t *testing.T, s examina.Store) {
	ctx := t.Context()
	for _, p := range []int{0, 1, 2} {
		mustNil(t, s.PutResult(ctx, "job", Result(p)), "PutResult %d", p)
	}
	repl := Result(1)
	repl.Analysis = examina.DefaultAnalysis("all attempts failed")
	repl.Text = "replaced"
	mustNil(t, s.PutResult(ctx, "job", repl), "PutResult (replace)")
	rs, err := s.Results(ctx, "job")
	mustNil(t, err, "Results")
	if got := positionsOf(rs); !reflect.DeepEqual(got, []int{0, 1, 2}) {
		t.Fatalf("Results positions after replace = %v, want [0 1 2]", got)
	}
	mustEqual(t, rs[1], repl, "replaced result")
	mustEqual(t, rs[0], Result(0), "untouched result 0")
	mustEqual(t, rs[2], Result(2), "untouched result 2")
}

func testResultsIsolatedByJob(t *testing.T, s examina.Store) {
	ctx := t.Context()
	// "job1" is a prefix of "job10" and "job1-x"; "job" is a prefix of all.
	jobs := map[string][]int{
		"job":    {5},
		"job1":   {0, 1, 2},
		"job10":  {0, 3},
		"job1-x": {7},
		"job2":   {1},
	}
	for id, ps := range jobs {
		for _, p := range ps {
			r := Result(p)
			r.Text = id // mark which job it belongs to
			mustNil(t, s.PutResult(ctx, id, r), "PutResult %q %d", id, p)
		}
	}
	for id, want := range jobs {
		rs, err := s.Results(ctx, id)
		mustNil(t, err, "Results %q", id)
		if got := positionsOf(rs); !reflect.DeepEqual(got, want) {
			t.Errorf("Results(%q) positions = %v, want %v", id, got, want)
		}
		for _, r := range rs {
			if r.Text != id {
				t.Errorf("Results(%q) returned a result of job %q", id, r.Text)
			}
		}
	}
}

func testDeleteResults(t *testing.T, s examina.Store) {
	ctx := t.Context()
	for _, p := range []int{0, 1, 2, 3} {
		mustNil(t, s.PutResult(ctx, "job1", Result(p)), "PutResult job1 %d", p)
		mustNil(t, s.PutResult(ctx, "job10", Result(p)), "PutResult job10 %d", p)
	}
	mustNil(t, s.PutJob(ctx, Job("job1", base)), "PutJob")
	mustNil(t, s.PutOutput(ctx, Output("job1")), "PutOutput")

	mustNil(t, s.DeleteResults(ctx, "job1"), "DeleteResults")
	rs, err := s.Results(ctx, "job1")
	mustNil(t, err, "Results job1")
	if len(rs) != 0 {
		t.Errorf("Results(job1) after delete = positions %v, want none", positionsOf(rs))
	}
	rs, err = s.Results(ctx, "job10")
	mustNil(t, err, "Results job10")
	if got := positionsOf(rs); !reflect.DeepEqual(got, []int{0, 1, 2, 3}) {
		t.Errorf("Results(job10) after deleting job1 = %v, want [0 1 2 3]", got)
	}
	if _, err := s.GetJob(ctx, "job1"); err != nil {
		t.Errorf("GetJob after DeleteResults: %v (the job must survive)", err)
	}
	if _, err := s.GetOutput(ctx, "job1"); err != nil {
		t.Errorf("GetOutput after DeleteResults: %v (the output must survive)", err)
	}
	// Idempotent, and results can be written again afterwards.
	mustNil(t, s.DeleteResults(ctx, "job1"), "DeleteResults (again)")
	mustNil(t, s.DeleteResults(ctx, "never-had-any"), "DeleteResults of a job without results")
	mustNil(t, s.PutResult(ctx, "job1", Result(4)), "PutResult after delete")
	rs, err = s.Results(ctx, "job1")
	mustNil(t, err, "Results job1")
	if got := positionsOf(rs); !reflect.DeepEqual(got, []int{4}) {
		t.Errorf("Results(job1) after re-put = %v, want [4]", got)
	}
}

func testOutputRoundTrip(t *testing.T, s examina.Store) {
	ctx := t.Context()
	outs := []examina.Result{
		Output("job-1"),
		{JobID: "job-empty"}, // nil slices, zero stats
		{JobID: "job-emptyslices", Exercises: []examina.ExerciseResult{}, MergedExercises: []examina.MergedExercise{},
			Topics: []examina.Topic{}, CoreLoops: []examina.CoreLoop{}},
	}
	for _, o := range outs {
		mustNil(t, s.PutOutput(ctx, o), "PutOutput %q", o.JobID)
	}
	for _, want := range outs {
		got, err := s.GetOutput(ctx, want.JobID)
		mustNil(t, err, "GetOutput %q", want.JobID)
		mustEqual(t, got, want, "GetOutput %q", want.JobID)
	}
}

func testOutputReplace(t *testing.T, s examina.Store) {
	ctx := t.Context()
	o := Output("job-1")
	mustNil(t, s.PutOutput(ctx, o), "PutOutput")
	o.Stats.ElapsedMS = 9999
	o.Topics = o.Topics[:0]
	mustNil(t, s.PutOutput(ctx, o), "PutOutput (replace)")
	got, err := s.GetOutput(ctx, "job-1")
	mustNil(t, err, "GetOutput")
	mustEqual(t, got, o, "GetOutput after replace")
}

func testOutputNotFound(t *testing.T, s examina.Store) {
	ctx := t.Context()
	mustNil(t, s.PutOutput(ctx, Output("job1")), "PutOutput")
	mustNil(t, s.PutJob(ctx, Job("job2", base)), "PutJob") // a job without an output
	for _, id := range []string{"unknown", "job10", "job2"} {
		_, err := s.GetOutput(ctx, id)
		if !examina.IsNotFound(err) {
			t.Errorf("GetOutput(%q) error = %v (kind %v), want not found", id, err, examina.KindOf(err))
		}
	}
}

func testCache(t *testing.T, s examina.Store) {
	ctx := t.Context()
	key := "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	_, ok, err := s.CacheGet(ctx, key)
	mustNil(t, err, "CacheGet (miss)")
	if ok {
		t.Fatal("CacheGet on an empty cache: ok = true")
	}

	first := Result(0).Analysis
	mustNil(t, s.CachePut(ctx, key, first), "CachePut")
	got, ok, err := s.CacheGet(ctx, key)
	mustNil(t, err, "CacheGet (hit)")
	if !ok {
		t.Fatal("CacheGet after CachePut: ok = false")
	}
	mustEqual(t, got, first, "CacheGet (hit)")

	second := examina.DefaultAnalysis("overwritten")
	mustNil(t, s.CachePut(ctx, key, second), "CachePut (overwrite)")
	got, ok, err = s.CacheGet(ctx, key)
	mustNil(t, err, "CacheGet (after overwrite)")
	if !ok {
		t.Fatal("CacheGet after overwrite: ok = false")
	}
	mustEqual(t, got, second, "CacheGet (after overwrite)")

	// A key that extends the stored one is a different key.
	if _, ok, err := s.CacheGet(ctx, key+"0"); err != nil || ok {
		t.Fatalf("CacheGet of a longer key = ok %v, err %v; want a miss", ok, err)
	}
	if _, ok, err := s.CacheGet(ctx, key[:len(key)-1]); err != nil || ok {
		t.Fatalf("CacheGet of a shorter key = ok %v, err %v; want a miss", ok, err)
	}
}

func testValuesCopied(t *testing.T, s examina.Store) {
	ctx := t.Context()

	// Jobs: mutate after Put, then mutate the returned value.
	j := Job("job", base)
	mustNil(t, s.PutJob(ctx, j), "PutJob")
	j.Problems[0] = "mutated after put"
	got, err := s.GetJob(ctx, "job")
	mustNil(t, err, "GetJob")
	mustEqual(t, got, Job("job", base), "GetJob after mutating the put value")
	got.Problems[1] = "mutated after get"
	got, err = s.GetJob(ctx, "job")
	mustNil(t, err, "GetJob")
	mustEqual(t, got, Job("job", base), "GetJob after mutating a returned value")
	list, err := s.ListJobs(ctx)
	mustNil(t, err, "ListJobs")
	list[0].Problems[0] = "mutated list item"
	got, err = s.GetJob(ctx, "job")
	mustNil(t, err, "GetJob")
	mustEqual(t, got, Job("job", base), "GetJob after mutating a listed value")

	// Results.
	r := Result(3)
	mustNil(t, s.PutResult(ctx, "job", r), "PutResult")
	r.Analysis.Procedure[0] = "mutated after put"
	r.Analysis.AttemptLog[0].Outcome = "mutated after put"
	rs, err := s.Results(ctx, "job")
	mustNil(t, err, "Results")
	mustEqual(t, rs, []examina.ExerciseResult{Result(3)}, "Results after mutating the put value")
	rs[0].Analysis.Procedure[1] = "mutated after get"
	rs[0].Analysis.AttemptLog[1].Outcome = "mutated after get"
	rs, err = s.Results(ctx, "job")
	mustNil(t, err, "Results")
	mustEqual(t, rs, []examina.ExerciseResult{Result(3)}, "Results after mutating a returned value")

	// Outputs.
	o := Output("job")
	mustNil(t, s.PutOutput(ctx, o), "PutOutput")
	o.Exercises[0].Analysis.Procedure[0] = "mutated after put"
	o.MergedExercises[0].MergedFrom[0] = "mutated after put"
	o.Topics[0].CoreLoops[0] = "mutated after put"
	gotO, err := s.GetOutput(ctx, "job")
	mustNil(t, err, "GetOutput")
	mustEqual(t, gotO, Output("job"), "GetOutput after mutating the put value")
	gotO.CoreLoops[0].Procedure[0] = "mutated after get"
	gotO.Exercises[1].Analysis.AttemptLog[0].N = 42
	gotO, err = s.GetOutput(ctx, "job")
	mustNil(t, err, "GetOutput")
	mustEqual(t, gotO, Output("job"), "GetOutput after mutating a returned value")

	// Cache.
	a := Result(0).Analysis
	mustNil(t, s.CachePut(ctx, "k", a), "CachePut")
	a.Variations[0] = "mutated after put"
	gotA, _, err := s.CacheGet(ctx, "k")
	mustNil(t, err, "CacheGet")
	mustEqual(t, gotA, Result(0).Analysis, "CacheGet after mutating the put value")
	gotA.Procedure[0] = "mutated after get"
	gotA, _, err = s.CacheGet(ctx, "k")
	mustNil(t, err, "CacheGet")
	mustEqual(t, gotA, Result(0).Analysis, "CacheGet after mutating a returned value")
}

func testInvalidInput(t *testing.T, s examina.Store) {
	ctx := t.Context()
	negative := Result(0)
	negative.Position = -1
	calls := []struct {
		name string
		call func() error
	}{
		{"PutJob empty id", func() error { return s.PutJob(ctx, examina.Job{Status: examina.JobPending}) }},
		{"PutResult empty job id", func() error { return s.PutResult(ctx, "", Result(0)) }},
		{"PutResult negative position", func() error { return s.PutResult(ctx, "job", negative) }},
		{"PutOutput empty job id", func() error { return s.PutOutput(ctx, examina.Result{}) }},
		{"CachePut empty key", func() error { return s.CachePut(ctx, "", Result(0).Analysis) }},
	}
	for _, c := range calls {
		err := c.call()
		if examina.KindOf(err) != examina.KindInvalid {
			t.Errorf("%s: error = %v (kind %v), want kind invalid", c.name, err, examina.KindOf(err))
		}
	}
	rs, err := s.Results(ctx, "job")
	mustNil(t, err, "Results")
	if len(rs) != 0 {
		t.Errorf("a rejected PutResult was stored: positions %v", positionsOf(rs))
	}
}

func testConcurrentPutResult(t *testing.T, s examina.Store) {
	ctx := t.Context()
	const goroutines, perGoroutine = 20, 5
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perGoroutine*2)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				pos := i*goroutines + g
				if err := s.PutResult(ctx, "job", Result(pos)); err != nil {
					errs <- fmt.Errorf("put result %d: %w", pos, err)
				}
				// Readers run alongside the writers.
				if _, err := s.Results(ctx, "job"); err != nil {
					errs <- fmt.Errorf("read results: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rs, err := s.Results(ctx, "job")
	mustNil(t, err, "Results")
	if len(rs) != goroutines*perGoroutine {
		t.Fatalf("Results after concurrent writes: %d results, want %d", len(rs), goroutines*perGoroutine)
	}
	for i, r := range rs {
		mustEqual(t, r, Result(i), "Results item %d", i)
	}
}

func testCancelledContext(t *testing.T, s examina.Store) {
	live := t.Context()
	// Seed data so reads would succeed with a live context.
	mustNil(t, s.PutJob(live, Job("seed", base)), "PutJob")
	mustNil(t, s.PutResult(live, "seed", Result(0)), "PutResult")
	mustNil(t, s.PutOutput(live, Output("seed")), "PutOutput")
	mustNil(t, s.CachePut(live, "seed", Result(0).Analysis), "CachePut")

	ctx, cancel := context.WithCancel(live)
	cancel()
	calls := []struct {
		name string
		call func() error
	}{
		{"PutJob", func() error { return s.PutJob(ctx, Job("new", base)) }},
		{"GetJob", func() error { _, err := s.GetJob(ctx, "seed"); return err }},
		{"ListJobs", func() error { _, err := s.ListJobs(ctx); return err }},
		{"PutResult", func() error { return s.PutResult(ctx, "new", Result(1)) }},
		{"Results", func() error { _, err := s.Results(ctx, "seed"); return err }},
		{"DeleteResults", func() error { return s.DeleteResults(ctx, "seed") }},
		{"PutOutput", func() error { return s.PutOutput(ctx, Output("new")) }},
		{"GetOutput", func() error { _, err := s.GetOutput(ctx, "seed"); return err }},
		{"CacheGet", func() error { _, _, err := s.CacheGet(ctx, "seed"); return err }},
		{"CachePut", func() error { return s.CachePut(ctx, "new", Result(1).Analysis) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: error = %v, want one wrapping context.Canceled", c.name, err)
		}
	}

	// Nothing was written or deleted.
	if _, err := s.GetJob(live, "new"); !examina.IsNotFound(err) {
		t.Errorf("GetJob(new) = %v, want not found: PutJob wrote with a cancelled context", err)
	}
	if rs, err := s.Results(live, "new"); err != nil || len(rs) != 0 {
		t.Errorf("Results(new) = %d results, err %v; want none", len(rs), err)
	}
	if rs, err := s.Results(live, "seed"); err != nil || len(rs) != 1 {
		t.Errorf("Results(seed) = %d results, err %v; want 1: DeleteResults ran with a cancelled context", len(rs), err)
	}
	if _, err := s.GetOutput(live, "new"); !examina.IsNotFound(err) {
		t.Errorf("GetOutput(new) = %v, want not found: PutOutput wrote with a cancelled context", err)
	}
	if _, ok, err := s.CacheGet(live, "new"); err != nil || ok {
		t.Errorf("CacheGet(new) = ok %v, err %v; want a miss", ok, err)
	}
}

func jobIDs(js []examina.Job) []string {
	ids := make([]string, len(js))
	for i, j := range js {
		ids[i] = j.ID
	}
	return ids
}

func positionsOf(rs []examina.ExerciseResult) []int {
	ps := make([]int, len(rs))
	for i, r := range rs {
		ps[i] = r.Position
	}
	return ps
}

func mustNil(t *testing.T, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}

func mustEqual(t *testing.T, got, want any, format string, args ...any) {
	t.Helper()
	if d := Diff(got, want); d != "" {
		t.Fatalf("%s: %s\ngot:  %+v\nwant: %+v", fmt.Sprintf(format, args...), d, got, want)
	}
}

// Diff compares got and want as the suite does (a nil slice equals an empty one, times
// are equal when they are the same instant) and describes the first difference, or
// returns "" when they are equal.
func Diff(got, want any) string {
	return diff("", reflect.ValueOf(got), reflect.ValueOf(want))
}

var timeType = reflect.TypeFor[time.Time]()

func diff(path string, got, want reflect.Value) string {
	if !got.IsValid() || !want.IsValid() {
		if got.IsValid() != want.IsValid() {
			return fmt.Sprintf("%s: one value is missing", orRoot(path))
		}
		return ""
	}
	if got.Type() != want.Type() {
		return fmt.Sprintf("%s: type %v, want %v", orRoot(path), got.Type(), want.Type())
	}
	if got.Type() == timeType {
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !g.Equal(w) {
			return fmt.Sprintf("%s: %v, want %v", orRoot(path), g, w)
		}
		return ""
	}
	switch got.Kind() {
	case reflect.Struct:
		for i := range got.NumField() {
			f := got.Type().Field(i)
			if d := diff(path+"."+f.Name, got.Field(i), want.Field(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice, reflect.Array:
		if got.Len() != want.Len() {
			return fmt.Sprintf("%s: length %d, want %d", orRoot(path), got.Len(), want.Len())
		}
		for i := range got.Len() {
			if d := diff(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Pointer, reflect.Interface:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				return fmt.Sprintf("%s: nil mismatch", orRoot(path))
			}
			return ""
		}
		return diff(path, got.Elem(), want.Elem())
	case reflect.Map:
		if got.Len() != want.Len() {
			return fmt.Sprintf("%s: %d entries, want %d", orRoot(path), got.Len(), want.Len())
		}
		for _, k := range want.MapKeys() {
			gv := got.MapIndex(k)
			if !gv.IsValid() {
				return fmt.Sprintf("%s[%v]: missing", orRoot(path), k)
			}
			if d := diff(fmt.Sprintf("%s[%v]", path, k), gv, want.MapIndex(k)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Float32, reflect.Float64:
		if got.Float() != want.Float() {
			return fmt.Sprintf("%s: %v, want %v", orRoot(path), got.Float(), want.Float())
		}
		return ""
	case reflect.Bool:
		if got.Bool() != want.Bool() {
			return fmt.Sprintf("%s: %v, want %v", orRoot(path), got.Bool(), want.Bool())
		}
		return ""
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if got.Int() != want.Int() {
			return fmt.Sprintf("%s: %d, want %d", orRoot(path), got.Int(), want.Int())
		}
		return ""
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if got.Uint() != want.Uint() {
			return fmt.Sprintf("%s: %d, want %d", orRoot(path), got.Uint(), want.Uint())
		}
		return ""
	case reflect.String:
		if got.String() != want.String() {
			return fmt.Sprintf("%s: %q, want %q", orRoot(path), got.String(), want.String())
		}
		return ""
	default:
		return fmt.Sprintf("%s: cannot compare values of kind %v", orRoot(path), got.Kind())
	}
}

func orRoot(path string) string {
	if path == "" {
		return "value"
	}
	return path
}
