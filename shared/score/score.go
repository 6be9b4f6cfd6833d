// Package score measures a result document against a labelled course: how well the
// invalid items and the fragments to merge were found (F1), how many reference groups
// were reproduced exactly, how well topics and core loops were clustered (adjusted Rand
// index against the reference), how many topics came out against the reference, and
// the coverage (share of merged groups above the confidence threshold).
//
// A labels file names every item of a course file, in order, with its kind
// (exercise, fragment, invalid) and, for exercises, a reference topic and core loop.
// The reference names are cluster labels: only which items share them counts, never
// the words (see testdata/courses/README.md).
package score

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// Kinds of labelled items.
const (
	KindExercise = "exercise" // opens a new group
	KindFragment = "fragment" // merges with the open group
	KindInvalid  = "invalid"  // instructions, headers, footers: dropped
)

// Labels is the reference of one course.
type Labels struct {
	Course string `json:"course"`
	// Split is "train" (the analyzer was tuned on it) or "heldout" (it was not).
	Split string  `json:"split"`
	Items []Label `json:"items"`
}

// Label is the reference of one item.
type Label struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Topic    string `json:"topic,omitempty"`
	CoreLoop string `json:"core_loop,omitempty"`
}

// ParseLabels decodes and checks a labels file: every item has an id, unique, and a
// known kind; an exercise has a topic and a core loop, a fragment and an invalid item
// have neither; a fragment follows an exercise.
func ParseLabels(b []byte) (Labels, error) {
	var l Labels
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return Labels{}, fmt.Errorf("labels: decoding: %w", err)
	}
	if len(l.Items) == 0 {
		return Labels{}, fmt.Errorf("labels: no items; list every item of the course file under \"items\"")
	}
	seen := map[string]bool{}
	open := false
	for i, it := range l.Items {
		where := fmt.Sprintf("labels: item %d (%q)", i, it.ID)
		switch {
		case it.ID == "":
			return Labels{}, fmt.Errorf("labels: item %d has no id", i)
		case seen[it.ID]:
			return Labels{}, fmt.Errorf("%s: duplicate id", where)
		}
		seen[it.ID] = true
		switch it.Kind {
		case KindExercise:
			if it.Topic == "" || it.CoreLoop == "" {
				return Labels{}, fmt.Errorf("%s: an exercise needs a topic and a core_loop", where)
			}
			open = true
		case KindFragment:
			if it.Topic != "" || it.CoreLoop != "" {
				return Labels{}, fmt.Errorf("%s: a fragment takes its group's topic and core loop; remove them", where)
			}
			if !open {
				return Labels{}, fmt.Errorf("%s: a fragment before any exercise; make it an exercise", where)
			}
		case KindInvalid:
			if it.Topic != "" || it.CoreLoop != "" {
				return Labels{}, fmt.Errorf("%s: an invalid item has no topic or core loop; remove them", where)
			}
		default:
			return Labels{}, fmt.Errorf("%s: kind %q: use exercise, fragment or invalid", where, it.Kind)
		}
	}
	return l, nil
}

// ReadLabels reads and checks the labels file at path.
func ReadLabels(path string) (Labels, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Labels{}, fmt.Errorf("labels: %w", err)
	}
	l, err := ParseLabels(b)
	if err != nil {
		return Labels{}, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// Report is the score of one result against its labels.
type Report struct {
	Course string `json:"course"`
	Split  string `json:"split"`
	Items  int    `json:"items"`
	// InvalidF1 is the F1 of the invalid class (1 when neither side has one).
	InvalidF1 float64 `json:"invalid_f1"`
	// MergeF1 is the F1 of should_merge_with_previous over the items valid in the
	// reference (1 when neither side merges anything).
	MergeF1 float64 `json:"merge_f1"`
	// GroupsExact is the share of reference groups found as exactly the same merged
	// group (same items).
	GroupsExact float64 `json:"groups_exact"`
	// TopicARI and CoreLoopARI are adjusted Rand indices over the reference groups:
	// the reference topic (core loop) of each group against the predicted one of its
	// opening item (an item dropped as invalid counts as a cluster of its own).
	TopicARI    float64 `json:"topic_ari"`
	CoreLoopARI float64 `json:"core_loop_ari"`
	// Topics is the number of topics in the result; RefTopics in the reference.
	Topics    int `json:"topics"`
	RefTopics int `json:"ref_topics"`
	// Coverage is the share of merged groups at or above the confidence threshold.
	Coverage float64 `json:"coverage"`
}

// Score compares res with the labels l. Every labelled item must be in the result and
// the other way round; min is the confidence threshold of coverage (0: the result's
// own, else 0.5).
func Score(l Labels, res examina.Result, min float64) (Report, error) {
	if min <= 0 {
		min = res.MinConfidence
	}
	if min <= 0 {
		min = 0.5
	}
	byID := map[string]examina.Analysis{}
	for _, e := range res.Exercises {
		byID[e.ID] = e.Analysis
	}
	if len(byID) != len(l.Items) {
		return Report{}, fmt.Errorf("score: the result has %d exercises and the labels %d items: score the result of the labelled course file", len(byID), len(l.Items))
	}
	for _, it := range l.Items {
		if _, ok := byID[it.ID]; !ok {
			return Report{}, fmt.Errorf("score: item %q of the labels is not in the result", it.ID)
		}
	}
	// The predicted group of every item: the id of the merged group holding it.
	groupOf := map[string]string{}
	groupAnalysis := map[string]examina.Analysis{}
	for _, g := range res.MergedExercises {
		groupAnalysis[g.ID] = g.Analysis
		groupOf[g.ID] = g.ID
		for _, id := range g.MergedFrom {
			groupOf[id] = g.ID
		}
	}

	var inv, mrg f1
	type refGroup struct {
		ids             []string
		topic, coreLoop string
	}
	var groups []refGroup
	for _, it := range l.Items {
		a := byID[it.ID]
		refInvalid := it.Kind == KindInvalid
		inv.add(refInvalid, !a.IsValidExercise)
		if refInvalid {
			continue
		}
		mrg.add(it.Kind == KindFragment, a.IsValidExercise && a.ShouldMergeWithPrevious)
		if it.Kind == KindFragment {
			g := &groups[len(groups)-1]
			g.ids = append(g.ids, it.ID)
			continue
		}
		groups = append(groups, refGroup{ids: []string{it.ID}, topic: it.Topic, coreLoop: it.CoreLoop})
	}

	predMembers := map[string][]string{}
	for _, it := range l.Items {
		if g, ok := groupOf[it.ID]; ok {
			predMembers[g] = append(predMembers[g], it.ID)
		}
	}
	exact := 0
	var refT, refC, predT, predC []string
	refTopics := map[string]bool{}
	for _, g := range groups {
		pg, ok := groupOf[g.ids[0]]
		if ok && slices.Equal(predMembers[pg], g.ids) {
			exact++
		}
		refT = append(refT, g.topic)
		refC = append(refC, g.coreLoop)
		refTopics[g.topic] = true
		if !ok {
			predT = append(predT, "\x00dropped "+g.ids[0])
			predC = append(predC, "\x00dropped "+g.ids[0])
			continue
		}
		a := groupAnalysis[pg]
		predT = append(predT, strings.ToLower(strings.TrimSpace(a.Topic)))
		predC = append(predC, a.CoreLoopID)
	}
	covered := 0
	for _, g := range res.MergedExercises {
		if g.Analysis.Confidence >= min {
			covered++
		}
	}
	r := Report{
		Course: l.Course, Split: l.Split, Items: len(l.Items),
		InvalidF1: inv.score(), MergeF1: mrg.score(),
		TopicARI: ARI(refT, predT), CoreLoopARI: ARI(refC, predC),
		Topics: len(res.Topics), RefTopics: len(refTopics),
	}
	if len(groups) > 0 {
		r.GroupsExact = float64(exact) / float64(len(groups))
	}
	if n := len(res.MergedExercises); n > 0 {
		r.Coverage = float64(covered) / float64(n)
	}
	return r, nil
}

// f1 counts a binary classification.
type f1 struct{ tp, fp, fn int }

func (f *f1) add(ref, pred bool) {
	switch {
	case ref && pred:
		f.tp++
	case pred:
		f.fp++
	case ref:
		f.fn++
	}
}

// score is 2tp/(2tp+fp+fn), 1 when there is nothing to find and nothing was found.
func (f f1) score() float64 {
	d := 2*f.tp + f.fp + f.fn
	if d == 0 {
		return 1
	}
	return float64(2*f.tp) / float64(d)
}

// ARI is the adjusted Rand index of two labellings of the same elements (Hubert and
// Arabie, 1985): 1 for identical partitions, about 0 for independent ones, negative
// when worse than chance. Two partitions with a single cluster each, or of fewer than
// two elements, agree trivially: 1. It panics if the lengths differ.
func ARI(a, b []string) float64 {
	if len(a) != len(b) {
		panic("score.ARI: labellings of different lengths")
	}
	n := len(a)
	if n < 2 {
		return 1
	}
	pair := map[[2]string]int{}
	ca, cb := map[string]int{}, map[string]int{}
	for i := range a {
		pair[[2]string{a[i], b[i]}]++
		ca[a[i]]++
		cb[b[i]]++
	}
	c2 := func(x int) float64 { return float64(x) * float64(x-1) / 2 }
	var index, sa, sb float64
	for _, v := range pair {
		index += c2(v)
	}
	for _, v := range ca {
		sa += c2(v)
	}
	for _, v := range cb {
		sb += c2(v)
	}
	expected := sa * sb / c2(n)
	maxIndex := (sa + sb) / 2
	if maxIndex == expected {
		// Both partitions are all singletons or both a single cluster.
		if index == maxIndex {
			return 1
		}
		return 0
	}
	return round4((index - expected) / (maxIndex - expected))
}

func round4(f float64) float64 { return math.Round(f*1e4) / 1e4 }
