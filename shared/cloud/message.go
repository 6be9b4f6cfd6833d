package cloud

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

// Task is the body of one analyze message: everything needed to analyse one exercise
// without reading anything else.
type Task struct {
	JobID    string           `json:"job_id"`
	Course   examina.Course   `json:"course"`
	Position int              `json:"position"`
	Exercise examina.Exercise `json:"exercise"`
	Previous string           `json:"previous"`
	Total    int              `json:"total"`
	// CacheChecked is true when the dispatcher looked the exercise up in the response
	// cache at fan-out: then Cached is the hit, or nil for a miss, and the analyze
	// function does not read the cache again. Absent (false) in messages from older
	// dispatchers: the analyze function reads the cache itself.
	CacheChecked bool `json:"cache_checked,omitempty"`
	// Cached is the cached analysis found at fan-out (recorded with status cached,
	// without a provider call).
	Cached *examina.Analysis `json:"cached,omitempty"`
	// MaxCostUSD is the job's cost cap (0: none), copied from the job at fan-out.
	MaxCostUSD float64 `json:"max_cost_usd,omitempty"`
	// Deferral is set on a message the analyze function re-sent to wait for its
	// rate-limit slot: its attempt history and the booked slot.
	Deferral *Deferral `json:"deferral,omitempty"`
}

// ParseTask decodes and checks a message body.
func ParseTask(body string) (Task, error) {
	var t Task
	if err := json.Unmarshal([]byte(body), &t); err != nil {
		return Task{}, fmt.Errorf("decoding task: %w", err)
	}
	switch {
	case t.JobID == "":
		return Task{}, fmt.Errorf("task without job_id")
	case t.Position < 0 || t.Total < 1 || t.Position >= t.Total:
		return Task{}, fmt.Errorf("task position %d out of range for %d exercises", t.Position, t.Total)
	case t.Exercise.Position != t.Position:
		return Task{}, fmt.Errorf("task position %d and exercise position %d differ", t.Position, t.Exercise.Position)
	case t.Cached != nil && !t.CacheChecked:
		return Task{}, fmt.Errorf("task with a cached analysis but no cache decision")
	case t.Cached != nil && t.Cached.Status == examina.StatusDegraded:
		return Task{}, fmt.Errorf("task with a degraded cached analysis")
	case t.MaxCostUSD < 0 || math.IsNaN(t.MaxCostUSD) || math.IsInf(t.MaxCostUSD, 0):
		return Task{}, fmt.Errorf("task with a cost cap of %g", t.MaxCostUSD)
	case t.Deferral != nil && (t.Deferral.Count < 1 || t.Deferral.Attempts < 0):
		return Task{}, fmt.Errorf("task with a malformed deferral (count %d, attempts %d)", t.Deferral.Count, t.Deferral.Attempts)
	}
	return t, nil
}

// CacheKey is the response cache key of the task's exercise for provider and model:
// analysis.CacheKey over the prompt version, provider, model, the course's normalised
// language, the course, the exercise's text and the previous exercise's text. The
// dispatcher (at fan-out) and the analyze function compute it the same way.
func CacheKey(provider, model string, t Task) string {
	return analysis.CacheKey(analysis.PromptVersion, provider, model, analysis.NormalizeLanguage(t.Course.Language),
		t.Course, t.Exercise.Text, t.Previous)
}

// FanOutInput is the payload of the state machine's fan-out task.
type FanOutInput struct {
	Action    string `json:"action"`
	JobID     string `json:"job_id"`
	TaskToken string `json:"task_token"`
}

// FanOutOutput is the output sent with SendTaskSuccess once every result is counted.
type FanOutOutput struct {
	JobID string `json:"job_id"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// MergeInput is the merge task's payload.
type MergeInput struct {
	JobID string `json:"job_id"`
}

// MergeOutput is what the merge task returns to the state machine.
type MergeOutput struct {
	JobID        string `json:"job_id"`
	Status       string `json:"status"`
	ResultKey    string `json:"result_key"`
	MergedGroups int    `json:"merged_groups"`
	Topics       int    `json:"topics"`
	CoreLoops    int    `json:"core_loops"`
}

// ExecutionInput is the input of the state machine's execution.
type ExecutionInput struct {
	JobID  string `json:"job_id"`
	Course string `json:"course"`
	// FanOutExtraSeconds is added to the fan-out wait (FanOutTimeoutSeconds): the
	// job's exercises times Dispatcher.FanOutSecondsPerExercise. Absent: none.
	FanOutExtraSeconds *int64 `json:"fanout_extra_seconds,omitempty"`
}

// MaxFanOutExtraSeconds keeps the fan-out wait within a Task's TimeoutSeconds limit
// (99,999,999) and a standard execution's year.
const MaxFanOutExtraSeconds = 30_000_000
