package pipeline

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/merge"
)

// JobID derives a job's id from everything that determines its results: the course,
// every exercise's id and text in order, the prompt version, the provider, the model and
// the output language. Running the same course the same way again finds the same job,
// which is what makes local runs resumable. The id is the lower-case course code, a dash
// and 12 hex digits.
func JobID(cf examina.CourseFile, promptVersion, provider, model, lang string) string {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s;", len(s), s) }
	field(promptVersion)
	field(provider)
	field(model)
	field(lang)
	field(cf.Course.Code)
	field(cf.Course.Name)
	for _, ex := range cf.Exercises {
		field(ex.ID)
		field(ex.Text)
	}
	return strings.ToLower(cf.Course.Code) + "-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// Assemble builds the result document of a job from its stored results (any order):
// the ordered merge, the aggregation and the stats that follow from the analyses. The
// caller adds the run's own figures (provider calls, retries, cache hits, elapsed).
// The local Runner and the merge Lambda both call it, so both modes agree.
func Assemble(job examina.Job, results []examina.ExerciseResult, minConfidence float64) examina.Result {
	out := merge.Build(results, merge.Options{MinConfidence: minConfidence})
	sorted := slices.Clone(results)
	slices.SortStableFunc(sorted, func(a, b examina.ExerciseResult) int { return cmp.Compare(a.Position, b.Position) })
	st := examina.Stats{
		Exercises:            len(sorted),
		Invalid:              out.Invalid,
		MergedGroups:         len(out.Merged),
		LowConfidenceSkipped: out.LowConfidenceSkipped,
	}
	for _, r := range sorted {
		switch r.Analysis.Status {
		case examina.StatusDegraded:
			st.Degraded++
		default:
			st.Analyzed++
		}
	}
	return examina.Result{
		JobID:           job.ID,
		Course:          job.Course,
		Provider:        job.Provider,
		Model:           job.Model,
		PromptVersion:   job.PromptVersion,
		MinConfidence:   minConfidence,
		Stats:           st,
		Exercises:       sorted,
		MergedExercises: out.Merged,
		Topics:          out.Topics,
		CoreLoops:       out.CoreLoops,
	}
}
