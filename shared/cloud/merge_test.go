package cloud_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/testkit/storetest"
)

func TestMerge(t *testing.T) {
	s := newStack(t)
	const id = "ade-0000000000c1"
	const n = 6
	bodies := analyzeJob(t, s, id, n, "tok-c1")
	sig := &countingSignaler{}
	h := s.analyzeHandler(offline.New(), sig)
	m := &cloud.Merger{Store: s.store, Objects: s.bucket}

	// Not all results in yet: retryable.
	var msgs = batch(msg("m0", bodies[0], 1))
	if _, err := h.Handle(s.ctx, msgs); err != nil {
		t.Fatal(err)
	}
	_, err := m.Merge(s.ctx, cloud.MergeInput{JobID: id})
	var mre *cloud.MergeRetryableError
	if !errors.As(err, &mre) || reflect.TypeOf(err).Elem().Name() != "MergeRetryableError" {
		t.Fatalf("merge with missing results: %T %v, want *MergeRetryableError", err, err)
	}
	for i := 1; i < n; i++ {
		if _, err := h.Handle(s.ctx, batch(msg("m", bodies[i], 1))); err != nil {
			t.Fatal(err)
		}
	}
	out, err := m.Merge(s.ctx, cloud.MergeInput{JobID: id})
	if err != nil {
		t.Fatal(err)
	}
	job, _ := s.store.GetJob(s.ctx, id)
	results, _ := s.store.Results(s.ctx, id)
	want := pipeline.Assemble(job, results, 0.5)
	wantKey := "results/ADE/" + id + ".json"
	if out != (cloud.MergeOutput{JobID: id, Status: "completed", ResultKey: wantKey, MergedGroups: len(want.MergedExercises),
		Topics: len(want.Topics), CoreLoops: len(want.CoreLoops)}) {
		t.Fatalf("merge output = %+v", out)
	}
	var doc examina.Result
	if err := s.bucket.GetJSON(s.ctx, wantKey, &doc); err != nil {
		t.Fatal(err)
	}
	// Assemble's document plus the run figures the analyses carry.
	cloud.AddRunStats(&want.Stats, results)
	want.Stats.ElapsedMS = doc.Stats.ElapsedMS
	if d := storetest.Diff(doc, want); d != "" {
		t.Fatalf("result document differs from pipeline.Assemble: %s", d)
	}
	if doc.Stats.ProviderCalls != n {
		t.Errorf("provider calls = %d, want %d", doc.Stats.ProviderCalls, n)
	}
	merged, topics, loops, err := s.store.Merged(s.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d := storetest.Diff(merged, want.MergedExercises); d != "" {
		t.Errorf("MRG# items: %s", d)
	}
	if d := storetest.Diff(topics, want.Topics); d != "" {
		t.Errorf("TOP# items: %s", d)
	}
	if len(loops) != len(want.CoreLoops) || len(loops) == 0 {
		t.Errorf("LOOP# items = %d, want %d (> 0)", len(loops), len(want.CoreLoops))
	}
	job, _ = s.store.GetJob(s.ctx, id)
	if key, _ := s.store.ResultKey(s.ctx, id); job.Status != examina.JobCompleted || key != wantKey {
		t.Fatalf("job after merge: %s, key %q", job.Status, key)
	}
	// The API serves the document.
	resp := s.dispatcher().HandleAPI(s.ctx, getRequest(id))
	var view cloud.JobView
	if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &view) != nil || view.Result == nil || view.Progress != 1 {
		t.Fatalf("GET completed job = %d %.300s", resp.StatusCode, resp.Body)
	}
	if d := storetest.Diff(*view.Result, doc); d != "" {
		t.Fatalf("GET result: %s", d)
	}
	// Over the inline limit: a presigned URL of the document plus its summary.
	d := s.dispatcher()
	d.MaxInlineBytes = len(resp.Body) / 2
	linked := d.HandleAPI(s.ctx, getRequest(id))
	var lv cloud.JobView
	if linked.StatusCode != 200 || json.Unmarshal([]byte(linked.Body), &lv) != nil || lv.Result != nil || lv.ResultURL == "" {
		t.Fatalf("GET over the inline limit = %d %.300s", linked.StatusCode, linked.Body)
	}
	if n, _ := json.Marshal(linked); len(n) > d.MaxInlineBytes {
		t.Errorf("linked answer is %d bytes, over the inline limit %d", len(n), d.MaxInlineBytes)
	}
	if exp, err := time.Parse(time.RFC3339, lv.ResultExpiresAt); err != nil || exp.Before(time.Now().Add(14*time.Minute)) || exp.After(time.Now().Add(16*time.Minute)) {
		t.Errorf("result_expires_at = %q (%v), want about 15 minutes from now", lv.ResultExpiresAt, err)
	}
	if lv.Stats == nil || storetest.Diff(*lv.Stats, doc.Stats) != "" || storetest.Diff(lv.Topics, doc.Topics) != "" || storetest.Diff(lv.CoreLoops, doc.CoreLoops) != "" {
		t.Errorf("linked answer's summary differs from the document: stats %+v topics %d loops %d", lv.Stats, len(lv.Topics), len(lv.CoreLoops))
	}
	got, err := http.Get(lv.ResultURL)
	if err != nil {
		t.Fatal(err)
	}
	var fetched examina.Result
	err = json.NewDecoder(got.Body).Decode(&fetched)
	got.Body.Close()
	if err != nil || got.StatusCode != 200 || lv.ResultBytes == 0 {
		t.Fatalf("GET result_url = %d, %v", got.StatusCode, err)
	}
	if d := storetest.Diff(fetched, doc); d != "" {
		t.Fatalf("result_url document: %s", d)
	}
	d.Links = nil
	if r := d.HandleAPI(s.ctx, getRequest(id)); r.StatusCode != 500 {
		t.Errorf("over the limit without a presigner = %d, want 500", r.StatusCode)
	}
	// Merging again is idempotent.
	if out2, err := m.Merge(s.ctx, cloud.MergeInput{JobID: id}); err != nil || out2 != out {
		t.Fatalf("second merge = %+v, %v", out2, err)
	}

	var iie *cloud.InvalidInputError
	if _, err := m.Merge(s.ctx, cloud.MergeInput{JobID: "ade-0000000000ff"}); !errors.As(err, &iie) {
		t.Fatalf("merge of an unknown job: %v, want *InvalidInputError", err)
	}
	if _, err := m.Merge(s.ctx, cloud.MergeInput{JobID: "../etc"}); !errors.As(err, &iie) {
		t.Fatalf("merge of a malformed id: %v, want *InvalidInputError", err)
	}
}
