package examina

// ExerciseResult pairs an exercise with its analysis.
type ExerciseResult struct {
	Exercise
	Analysis Analysis `json:"analysis"`
}

// MergedExercise is a group of consecutive exercises glued together by the ordered merge.
// ID is the id of the group's first exercise; MergedFrom lists every member in order,
// the first included.
type MergedExercise struct {
	ID         string   `json:"id"`
	Position   int      `json:"position"`
	MergedFrom []string `json:"merged_from"`
	Text       string   `json:"text"`
	Analysis   Analysis `json:"analysis"`
	// TextTruncated is set on a stored copy (the MRG# item) whose text was cut to
	// the store's item limit; the result document always has the whole text.
	TextTruncated bool `json:"text_truncated,omitempty"`
}

// Topic is an aggregated topic of the course.
type Topic struct {
	Name          string   `json:"name"`
	ExerciseCount int      `json:"exercise_count"`
	CoreLoops     []string `json:"core_loops"`
}

// CoreLoop is an aggregated solving procedure of the course.
type CoreLoop struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Topic         string   `json:"topic"`
	Procedure     []string `json:"procedure"`
	ExerciseCount int      `json:"exercise_count"`
	Exercises     []string `json:"exercises"`
}

// Stats summarises a run. The JSON names are a contract (DESIGN §8).
type Stats struct {
	Exercises            int   `json:"exercises"`
	Analyzed             int   `json:"analyzed"`
	Degraded             int   `json:"degraded"`
	Invalid              int   `json:"invalid"`
	MergedGroups         int   `json:"merged_groups"`
	LowConfidenceSkipped int   `json:"low_confidence_skipped"`
	ProviderCalls        int   `json:"provider_calls"`
	Retries              int   `json:"retries"`
	CacheHits            int   `json:"cache_hits"`
	Resumed              int   `json:"resumed"`
	InputTokens          int   `json:"input_tokens"`
	OutputTokens         int   `json:"output_tokens"`
	WaitMS               int64 `json:"wait_ms"`
	ElapsedMS            int64 `json:"elapsed_ms"`
}

// Result is the result document of a job (`--out FILE`, `GET /analyses/{job}`, the S3
// results object). Its JSON keys are a contract: add fields, never rename these.
type Result struct {
	JobID           string           `json:"job_id"`
	Course          Course           `json:"course"`
	Provider        string           `json:"provider"`
	Model           string           `json:"model"`
	PromptVersion   string           `json:"prompt_version"`
	MinConfidence   float64          `json:"min_confidence"`
	Stats           Stats            `json:"stats"`
	Exercises       []ExerciseResult `json:"exercises"`
	MergedExercises []MergedExercise `json:"merged_exercises"`
	Topics          []Topic          `json:"topics"`
	CoreLoops       []CoreLoop       `json:"core_loops"`
}
