package examina

import (
	"strings"
	"unicode"
)

// Status says where an analysis came from.
type Status string

const (
	// StatusOK is an analysis returned by the provider and validated.
	StatusOK Status = "ok"
	// StatusDegraded is the default analysis used when every attempt failed.
	StatusDegraded Status = "degraded"
	// StatusCached is an analysis served from the response cache without a provider call.
	StatusCached Status = "cached"
)

// Difficulty levels accepted in an analysis.
const (
	DifficultyEasy   = "easy"
	DifficultyMedium = "medium"
	DifficultyHard   = "hard"
)

// Analysis is the Examina-compatible analysis of one exercise plus its run metadata.
// The JSON field names are a contract (DESIGN §6, §8): never rename them.
type Analysis struct {
	IsValidExercise         bool     `json:"is_valid_exercise"`
	IsFragment              bool     `json:"is_fragment"`
	ShouldMergeWithPrevious bool     `json:"should_merge_with_previous"`
	Topic                   string   `json:"topic"`
	CoreLoopName            string   `json:"core_loop_name"`
	CoreLoopID              string   `json:"core_loop_id"`
	Procedure               []string `json:"procedure"`
	Difficulty              string   `json:"difficulty"`
	Variations              []string `json:"variations"`
	Confidence              float64  `json:"confidence"`

	Meta
}

// Meta is how an analysis was obtained. It is flattened into the analysis JSON.
type Meta struct {
	Status       Status    `json:"status"`
	Attempts     int       `json:"attempts"`
	Provider     string    `json:"provider"`
	Model        string    `json:"model"`
	LatencyMS    int64     `json:"latency_ms"`
	InputTokens  int       `json:"input_tokens"`
	OutputTokens int       `json:"output_tokens"`
	WaitMS       int64     `json:"wait_ms,omitempty"`
	Heuristic    bool      `json:"heuristic,omitempty"`
	Error        string    `json:"error,omitempty"`
	AttemptLog   []Attempt `json:"attempt_log,omitempty"`
}

// Attempt records one provider call made for an exercise.
type Attempt struct {
	N            int    `json:"n"`
	HTTPStatus   int    `json:"http_status,omitempty"`
	Outcome      string `json:"outcome"`
	LatencyMS    int64  `json:"latency_ms"`
	WaitMS       int64  `json:"wait_ms,omitempty"`
	InputTokens  int    `json:"input_tokens,omitempty"`
	OutputTokens int    `json:"output_tokens,omitempty"`
	Error        string `json:"error,omitempty"`
}

// DefaultAnalysis is the analysis used when every attempt for an exercise failed: a
// valid, stand-alone exercise with zero confidence, so it forms its own merged group
// but never feeds topics or core loops. reason becomes Meta.Error.
func DefaultAnalysis(reason string) Analysis {
	return Analysis{
		IsValidExercise: true,
		Difficulty:      DifficultyMedium,
		Procedure:       []string{},
		Variations:      []string{},
		Meta:            Meta{Status: StatusDegraded, Error: reason},
	}
}

// CoreLoopID derives a core loop's id from its name: lower case, punctuation dropped,
// spaces and hyphens turned into underscores, runs of underscores collapsed.
func CoreLoopID(name string) string {
	var b strings.Builder
	lastUnderscore := true // suppress leading underscores
	for _, r := range strings.ToLower(name) {
		switch {
		case r == ' ' || r == '-' || r == '_' || unicode.IsSpace(r):
			if !lastUnderscore {
				b.WriteByte('_')
				lastUnderscore = true
			}
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
			lastUnderscore = false
		}
	}
	return strings.TrimRight(b.String(), "_")
}
