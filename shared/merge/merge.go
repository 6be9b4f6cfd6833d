// Package merge implements the ordered merge of per-exercise analyses into merged
// exercises (Examina's rules, DESIGN §6) and the aggregation of the merged groups into
// topics and core loops, folding near-duplicate names.
//
// Everything here is a pure function of its arguments: no I/O, no globals, no clocks.
package merge

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// DefaultMinConfidence is the confidence a merged group needs to feed topics and core
// loops when Options.MinConfidence is zero.
const DefaultMinConfidence = 0.5

// DefaultSimilarity is the similarity at or above which two topic or core-loop names are
// folded together when Options.Similarity is zero.
const DefaultSimilarity = 0.85

// Options tunes Build. The zero value selects the defaults.
type Options struct {
	// MinConfidence is the confidence a merged group needs (>=) to be aggregated; groups
	// below it are counted in Output.LowConfidenceSkipped. Zero or NaN selects
	// DefaultMinConfidence; to aggregate every group pass a negative value.
	MinConfidence float64
	// Similarity is the threshold at or above which names are folded (see Similarity).
	// Zero or NaN selects DefaultSimilarity; a value above 1 folds only names that are
	// equal after normalisation; a negative value folds every name into the first.
	Similarity float64
}

// withDefaults returns o with its zero (or NaN) fields replaced by the defaults.
func (o Options) withDefaults() Options {
	if o.MinConfidence == 0 || math.IsNaN(o.MinConfidence) {
		o.MinConfidence = DefaultMinConfidence
	}
	if o.Similarity == 0 || math.IsNaN(o.Similarity) {
		o.Similarity = DefaultSimilarity
	}
	return o
}

// Output is what Build produces. Its slices are never nil.
type Output struct {
	// Merged lists the merged groups in position order.
	Merged []examina.MergedExercise
	// Topics lists the aggregated topics by descending ExerciseCount, ties by first
	// appearance.
	Topics []examina.Topic
	// CoreLoops lists the aggregated core loops by descending ExerciseCount, ties by
	// first appearance.
	CoreLoops []examina.CoreLoop
	// Invalid counts the exercises dropped because their analysis is not a valid exercise.
	Invalid int
	// LowConfidenceSkipped counts the merged groups below MinConfidence (not aggregated).
	LowConfidenceSkipped int
}

// Build merges results in position order and aggregates the merged groups into topics
// and core loops.
//
// Merge: results are walked by ascending Position (ties by ID, then input order); it
// sorts a copy and never modifies results. An exercise whose analysis is not a valid
// exercise is dropped (Invalid) without closing the open group. An exercise that should
// merge with the previous one, when a group is open, appends its text to the group's
// text with a blank line ("\n\n") between and its id to MergedFrom; any other exercise
// (including a should-merge one with no open group) starts a new group carrying its own
// id, position, text and analysis (a copy in which a nil Procedure or Variations
// becomes empty). IsFragment alone does not merge.
//
// Aggregation: only groups whose analysis Confidence >= MinConfidence count (NaN never
// does). A group feeds the topic named by its Topic and the core loop identified by its
// CoreLoopID (or, if empty, examina.CoreLoopID(CoreLoopName)); blank names feed nothing.
// Names are compared after normalisation (see Similarity); distinct names are folded
// greedily in first-appearance order: each is compared with the canonical names seen
// before it and joins the most similar one whose Similarity >= opts.Similarity (ties to
// the earliest), otherwise it becomes canonical itself. A canonical entry keeps the
// first-seen spelling; counts are summed and exercise ids listed in position order.
// A core loop's Topic is the canonical topic name of its first group, and a topic's
// CoreLoops lists canonical core-loop ids in first-seen order, without duplicates.
//
// The output shares no slices with results. Build runs in O(n log n) for n results
// plus the folding of the distinct names.
func Build(results []examina.ExerciseResult, opts Options) Output {
	opts = opts.withDefaults()
	out := Output{}
	out.Merged, out.Invalid = mergeGroups(results)
	out.Topics, out.CoreLoops, out.LowConfidenceSkipped = aggregate(out.Merged, opts)
	return out
}

// mergeGroups applies the ordered merge and returns the groups and the invalid count.
func mergeGroups(results []examina.ExerciseResult) ([]examina.MergedExercise, int) {
	// Sort compact keys rather than the large results; the index makes the order total.
	type key struct {
		pos int
		id  string
		idx int
	}
	keys := make([]key, len(results))
	for i := range results {
		keys[i] = key{results[i].Position, results[i].ID, i}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.pos, b.pos); c != 0 {
			return c
		}
		if c := strings.Compare(a.id, b.id); c != 0 {
			return c
		}
		return cmp.Compare(a.idx, b.idx)
	})

	merged := make([]examina.MergedExercise, 0, len(results))
	invalid := 0
	open := -1
	var parts []string // texts of the open group, joined when it closes
	closeOpen := func() {
		if open >= 0 && len(parts) > 1 {
			merged[open].Text = strings.Join(parts, "\n\n")
		}
		parts = parts[:0]
	}
	for _, k := range keys {
		r := &results[k.idx]
		if !r.Analysis.IsValidExercise {
			invalid++
			continue
		}
		if r.Analysis.ShouldMergeWithPrevious && open >= 0 {
			parts = append(parts, r.Text)
			merged[open].MergedFrom = append(merged[open].MergedFrom, r.ID)
			continue
		}
		closeOpen()
		merged = append(merged, examina.MergedExercise{
			ID:         r.ID,
			Position:   r.Position,
			MergedFrom: []string{r.ID},
			Text:       r.Text,
			Analysis:   cloneAnalysis(r.Analysis),
		})
		open = len(merged) - 1
		parts = append(parts, r.Text)
	}
	closeOpen()
	return slices.Clip(merged), invalid
}

// cloneAnalysis copies a so that the copy shares no slices with it; a nil Procedure or
// Variations becomes empty so that the JSON shows [].
func cloneAnalysis(a examina.Analysis) examina.Analysis {
	a.Procedure = cloneNonNil(a.Procedure)
	a.Variations = cloneNonNil(a.Variations)
	a.AttemptLog = slices.Clone(a.AttemptLog)
	return a
}

// cloneNonNil returns a copy of s that is never nil.
func cloneNonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}
