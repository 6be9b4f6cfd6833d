package examina

import "time"

// JobStatus is the life-cycle state of a job.
type JobStatus string

const (
	JobPending   JobStatus = "pending"   // recorded, not yet analysing
	JobRunning   JobStatus = "running"   // analyses in progress
	JobMerging   JobStatus = "merging"   // all analyses in, merge running
	JobCompleted JobStatus = "completed" // result document written
	JobFailed    JobStatus = "failed"    // gave up; Reason says why
	JobRejected  JobStatus = "rejected"  // input invalid; Problems lists why
	JobCancelled JobStatus = "cancelled" // interrupted locally; resumable
)

// Job is one analysis of one course file with one provider and model.
type Job struct {
	ID            string    `json:"job_id"`
	Course        Course    `json:"course"`
	Provider      string    `json:"provider"`
	Model         string    `json:"model"`
	PromptVersion string    `json:"prompt_version"`
	Status        JobStatus `json:"status"`
	Total         int       `json:"total"`
	Done          int       `json:"done"`
	Degraded      int       `json:"degraded"`
	Reason        string    `json:"reason,omitempty"`
	Problems      []string  `json:"problems,omitempty"`
	Source        string    `json:"source,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// MaxCostUSD is the job's spending cap (0: none): no provider call starts that
	// could take Spend over it.
	MaxCostUSD float64 `json:"max_cost_usd,omitempty"`
	// Spend is the job's metered provider usage, kept as counters on the job in the
	// cloud; nil when nothing was metered.
	Spend *Spend `json:"spend,omitempty"`
}

// Spend is what a job's provider calls used, every attempt counted. Amounts are in
// nano-USD (1e-9 USD) at the price the calls were metered with.
type Spend struct {
	Calls        int   `json:"calls"`
	InputTokens  int   `json:"input_tokens"`
	OutputTokens int   `json:"output_tokens"`
	MeteredNanos int64 `json:"metered_nanos"`
	// Unmetered calls reported no usage; UnmeteredNanos is their worst case.
	Unmetered      int   `json:"unmetered_calls"`
	UnmeteredNanos int64 `json:"unmetered_nanos"`
	// CommittedNanos is the spend the cap counts: metered, unmetered worst cases and
	// the reservations of calls in flight.
	CommittedNanos int64 `json:"committed_nanos"`
	// Refused calls were not started because of the cap.
	Refused int `json:"refused_calls"`
}

// Terminal reports whether the job will not change any more without a new run.
func (j Job) Terminal() bool {
	switch j.Status {
	case JobCompleted, JobFailed, JobRejected:
		return true
	}
	return false
}
