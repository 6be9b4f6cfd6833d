package cloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// throttledStore fails CountResult failFirst times (like sustained DynamoDB
// throttling that outlasts the SDK's own retries), then counts.
type throttledStore struct {
	mu        sync.Mutex
	failFirst int
	calls     int
	counted   int
	statuses  []examina.Status
}

func (s *throttledStore) CountResult(ctx context.Context, jobID string, r examina.ExerciseResult, total int, cacheKey string, cache *examina.Analysis) (bool, int, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.failFirst {
		return false, 0, 0, examina.E("dynamo.CountResult", examina.KindTransient, "ProvisionedThroughputExceededException")
	}
	s.counted++
	s.statuses = append(s.statuses, r.Analysis.Status)
	return true, s.counted, 2, nil
}
func (s *throttledStore) ClaimSignal(context.Context, string) (string, bool, error) {
	return "", false, nil
}
func (s *throttledStore) ReleaseSignal(context.Context, string) error { return nil }
func (s *throttledStore) CacheGet(context.Context, string) (examina.Analysis, bool, error) {
	return examina.Analysis{}, false, nil
}

// TestLastReceiveKeepsRecording: before the last receive a failed write redelivers the
// message (one attempt); on the last receive, where only the DLQ would follow, the
// handler keeps retrying the write so the exercise is still counted.
func TestLastReceiveKeepsRecording(t *testing.T) {
	body, _ := json.Marshal(cloud.Task{JobID: "ade-0123456789ab", Course: examina.Course{Code: "ADE", Name: "A", Language: "it"},
		Position: 0, Total: 2, Exercise: examina.Exercise{ID: "e0", Number: "1", Text: "Minimizzare con le mappe di Karnaugh la funzione f.", Position: 0}})
	src := func(context.Context) (*pipeline.Analyzer, error) {
		return &pipeline.Analyzer{Provider: offline.New(), Policy: retry.DefaultPolicy(), Language: "it"}, nil
	}
	for _, tt := range []struct {
		name        string
		receive     int
		wantFailed  bool
		wantCalls   int
		wantCounted int
	}{
		{"first receive fails fast", 1, true, 1, 0},
		{"last receive retries until counted", 3, false, 4, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &throttledStore{failFirst: 3}
			h := &cloud.Analyze{Store: st, Analyzer: src, MaxReceives: 3}
			resp, err := h.Handle(context.Background(), batch(msg("m1", string(body), tt.receive)))
			if err != nil {
				t.Fatal(err)
			}
			if failed := len(resp.BatchItemFailures) == 1; failed != tt.wantFailed || st.calls != tt.wantCalls || st.counted != tt.wantCounted {
				t.Fatalf("failed %v, %d CountResult calls, counted %d; want %v, %d, %d", failed, st.calls, st.counted, tt.wantFailed, tt.wantCalls, tt.wantCounted)
			}
		})
	}
	// With no time left before the deadline the handler gives up rather than be killed.
	st := &throttledStore{failFirst: 1 << 30}
	h := &cloud.Analyze{Store: st, Analyzer: src, MaxReceives: 3, MinTimeLeft: 1}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	resp, err := h.Handle(ctx, batch(msg("m1", string(body), 3)))
	if err != nil || len(resp.BatchItemFailures) != 1 || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("with a deadline: %v, %d failures, ctx %v; want the item failed before the deadline", err, len(resp.BatchItemFailures), ctx.Err())
	}
}

// TestLastReceiveWithoutTimeCounts: a message that arrives with less than MinTimeLeft
// before the deadline goes back to the queue, except on its last receive, where the
// degraded default is counted so the job still completes.
func TestLastReceiveWithoutTimeCounts(t *testing.T) {
	body, _ := json.Marshal(cloud.Task{JobID: "ade-0123456789ab", Course: examina.Course{Code: "ADE", Name: "A", Language: "it"},
		Position: 1, Total: 2, Exercise: examina.Exercise{ID: "e1", Number: "2", Text: "Progettare un contatore modulo 6.", Position: 1}})
	called := false
	src := func(context.Context) (*pipeline.Analyzer, error) {
		called = true
		return &pipeline.Analyzer{Provider: offline.New(), Policy: retry.DefaultPolicy(), Language: "it"}, nil
	}
	for _, tt := range []struct {
		receive    int
		wantFailed bool
		wantStatus []examina.Status
	}{
		{1, true, nil},
		{3, false, []examina.Status{examina.StatusDegraded}},
	} {
		st := &throttledStore{}
		h := &cloud.Analyze{Store: st, Analyzer: src, MaxReceives: 3, MinTimeLeft: time.Hour}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err := h.Handle(ctx, batch(msg("m1", string(body), tt.receive)))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if failed := len(resp.BatchItemFailures) == 1; failed != tt.wantFailed || !slices.Equal(st.statuses, tt.wantStatus) {
			t.Fatalf("receive %d: failed %v, counted %v; want %v, %v", tt.receive, failed, st.statuses, tt.wantFailed, tt.wantStatus)
		}
	}
	if called {
		t.Fatal("the provider was built although no message had time to be analysed")
	}
}
