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
	// Cost is what the run's provider calls cost, every attempt included; nil when
	// the run was not metered.
	Cost *Cost `json:"cost,omitempty"`
}

// Cost is the metered spend of a run: every provider call counts, retries, repairs,
// truncated and failed attempts included. Amounts are USD; an amount is null when
// the model's price is unknown (never shown as 0).
type Cost struct {
	// USD is the cost of the usage the provider reported for every call.
	USD *float64 `json:"usd"`
	// PriceKnown is false when no price was found for the model.
	PriceKnown   bool `json:"price_known"`
	InputTokens  int  `json:"input_tokens"`
	OutputTokens int  `json:"output_tokens"`
	// RetryUSD and the Retry tokens are the part spent on attempts whose answer was
	// not kept: failed, truncated, invalid and repaired attempts, and every attempt of
	// a degraded or abandoned exercise.
	RetryUSD          *float64 `json:"retry_usd"`
	RetryInputTokens  int      `json:"retry_input_tokens"`
	RetryOutputTokens int      `json:"retry_output_tokens"`
	// Calls is the number of provider calls metered.
	Calls int `json:"calls"`
	// UnmeteredCalls reported no usage but may have been billed (timeouts, broken
	// connections); UnmeteredMaxUSD is their worst case, not included in USD.
	UnmeteredCalls  int      `json:"unmetered_calls"`
	UnmeteredMaxUSD *float64 `json:"unmetered_max_usd"`
	// RefusedCalls were not started because they could exceed MaxUSD.
	RefusedCalls int `json:"refused_calls,omitempty"`
	// JobUSD is the metered spend of every run of the job, this one included, when
	// earlier runs (interrupted or stopped by the cap) made calls.
	JobUSD *float64 `json:"job_usd,omitempty"`
	// MaxUSD is the spending cap (of the job, all runs), absent when none was set.
	MaxUSD *float64   `json:"max_usd,omitempty"`
	Price  *PriceInfo `json:"price,omitempty"`
}

// PriceInfo is the price a cost was computed with.
type PriceInfo struct {
	InputPerMTok  float64 `json:"input_per_mtok"`
	OutputPerMTok float64 `json:"output_per_mtok"`
	Checked       string  `json:"checked,omitempty"`
	Source        string  `json:"source,omitempty"`
	Origin        string  `json:"origin,omitempty"`
	Local         bool    `json:"local,omitempty"`
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
