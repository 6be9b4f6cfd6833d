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
}

// Terminal reports whether the job will not change any more without a new run.
func (j Job) Terminal() bool {
	switch j.Status {
	case JobCompleted, JobFailed, JobRejected:
		return true
	}
	return false
}
