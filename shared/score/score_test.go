package score

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

func TestARI(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		want float64
	}{
		{"identical", []string{"x", "x", "y", "y"}, []string{"x", "x", "y", "y"}, 1},
		{"renamed", []string{"x", "x", "y", "y"}, []string{"p", "p", "q", "q"}, 1},
		{"crossed", []string{"x", "x", "y", "y"}, []string{"p", "q", "p", "q"}, -0.5},
		// Hubert & Arabie's example as computed by scikit-learn's adjusted_rand_score.
		{"sklearn 0 0 1 1 vs 0 0 1 2", []string{"0", "0", "1", "1"}, []string{"0", "0", "1", "2"}, 0.5714},
		{"sklearn 0 0 1 2 vs 0 0 1 1", []string{"0", "0", "1", "2"}, []string{"0", "0", "1", "1"}, 0.5714},
		{"sklearn 0 0 1 1 vs 0 1 0 1", []string{"0", "0", "1", "1"}, []string{"0", "1", "0", "1"}, -0.5},
		{"sklearn 0 0 0 0 vs 0 1 2 3", []string{"0", "0", "0", "0"}, []string{"0", "1", "2", "3"}, 0},
		{"sklearn 6 items", []string{"0", "0", "0", "1", "1", "1"}, []string{"0", "0", "1", "1", "2", "2"}, 0.2424},
		{"all singletons both", []string{"a", "b", "c"}, []string{"x", "y", "z"}, 1},
		{"one cluster both", []string{"a", "a", "a"}, []string{"x", "x", "x"}, 1},
		{"one element", []string{"a"}, []string{"b"}, 1},
		{"empty", nil, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ARI(tt.a, tt.b); math.Abs(got-tt.want) > 1e-4 {
				t.Errorf("ARI = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestARIPanicsOnDifferentLengths(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	ARI([]string{"a"}, []string{"a", "b"})
}

func TestF1(t *testing.T) {
	tests := []struct {
		tp, fp, fn int
		want       float64
	}{
		{0, 0, 0, 1}, {1, 0, 0, 1}, {1, 1, 0, 2.0 / 3}, {1, 0, 1, 2.0 / 3}, {0, 1, 1, 0}, {3, 1, 2, 6.0 / 9},
	}
	for _, tt := range tests {
		if got := (f1{tt.tp, tt.fp, tt.fn}).score(); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("f1%v = %v, want %v", []int{tt.tp, tt.fp, tt.fn}, got, tt.want)
		}
	}
}

func TestParseLabels(t *testing.T) {
	tests := []struct{ name, json, err string }{
		{"ok", `{"course":"c","split":"train","items":[{"id":"a","kind":"invalid"},{"id":"b","kind":"exercise","topic":"t","core_loop":"l"},{"id":"c","kind":"fragment"}]}`, ""},
		{"no items", `{"course":"c","items":[]}`, "no items"},
		{"unknown field", `{"course":"c","items":[{"id":"a","kind":"invalid","note":"x"}]}`, "unknown field"},
		{"no id", `{"items":[{"kind":"invalid"}]}`, "has no id"},
		{"duplicate", `{"items":[{"id":"a","kind":"invalid"},{"id":"a","kind":"invalid"}]}`, "duplicate id"},
		{"exercise without topic", `{"items":[{"id":"a","kind":"exercise","core_loop":"l"}]}`, "needs a topic"},
		{"fragment with topic", `{"items":[{"id":"a","kind":"exercise","topic":"t","core_loop":"l"},{"id":"b","kind":"fragment","topic":"t"}]}`, "takes its group's"},
		{"fragment first", `{"items":[{"id":"a","kind":"invalid"},{"id":"b","kind":"fragment"}]}`, "before any exercise"},
		{"invalid with topic", `{"items":[{"id":"a","kind":"invalid","topic":"t"}]}`, "has no topic"},
		{"bad kind", `{"items":[{"id":"a","kind":"header"}]}`, `kind "header"`},
		{"not json", `[`, "decoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLabels([]byte(tt.json))
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want one containing %q", err, tt.err)
			}
		})
	}
}

// result builds a result document: each row is an item id, whether it is valid,
// whether it merges, and the topic, core loop id and confidence of a group it opens.
func result(rows ...[]any) examina.Result {
	var res examina.Result
	for _, r := range rows {
		id, valid, merge := r[0].(string), r[1].(bool), r[2].(bool)
		a := examina.Analysis{IsValidExercise: valid, ShouldMergeWithPrevious: merge}
		if len(r) > 3 {
			a.Topic, a.CoreLoopID, a.Confidence = r[3].(string), r[4].(string), r[5].(float64)
		}
		res.Exercises = append(res.Exercises, examina.ExerciseResult{Exercise: examina.Exercise{ID: id}, Analysis: a})
		switch {
		case !valid:
		case merge && len(res.MergedExercises) > 0:
			g := &res.MergedExercises[len(res.MergedExercises)-1]
			g.MergedFrom = append(g.MergedFrom, id)
		default:
			res.MergedExercises = append(res.MergedExercises, examina.MergedExercise{ID: id, Analysis: a})
		}
	}
	return res
}

func TestScore(t *testing.T) {
	labels := Labels{Course: "c", Split: "heldout", Items: []Label{
		{ID: "h", Kind: KindInvalid},
		{ID: "1", Kind: KindExercise, Topic: "A", CoreLoop: "a1"},
		{ID: "1b", Kind: KindFragment},
		{ID: "2", Kind: KindExercise, Topic: "A", CoreLoop: "a1"},
		{ID: "p", Kind: KindInvalid},
		{ID: "3", Kind: KindExercise, Topic: "B", CoreLoop: "b1"},
		{ID: "4", Kind: KindExercise, Topic: "B", CoreLoop: "b2"},
	}}
	t.Run("perfect", func(t *testing.T) {
		res := result(
			[]any{"h", false, false},
			[]any{"1", true, false, "Topic A", "loop_a", 0.9},
			[]any{"1b", true, true},
			[]any{"2", true, false, "topic a", "loop_a", 0.8},
			[]any{"p", false, false},
			[]any{"3", true, false, "Topic B", "loop_b1", 0.7},
			[]any{"4", true, false, "Topic B", "loop_b2", 0.6},
		)
		res.Topics = []examina.Topic{{Name: "Topic A"}, {Name: "Topic B"}}
		r, err := Score(labels, res, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := Report{Course: "c", Split: "heldout", Items: 7, InvalidF1: 1, MergeF1: 1, GroupsExact: 1, TopicARI: 1, CoreLoopARI: 1,
			Topics: 2, RefTopics: 2, Coverage: 1}
		if r != want {
			t.Errorf("report %+v, want %+v", r, want)
		}
	})
	t.Run("mistakes", func(t *testing.T) {
		res := result(
			[]any{"h", true, false, "Header", "h", 0.3}, // a header taken for an exercise
			[]any{"1", true, false, "Topic A", "loop_a", 0.9},
			[]any{"1b", true, false, "Topic A", "loop_a", 0.9}, // a missed fragment
			[]any{"2", true, true},                             // a wrong merge
			[]any{"p", false, false},
			[]any{"3", true, false, "Topic B", "loop_b", 0.7},
			[]any{"4", false, false}, // an exercise dropped
		)
		res.Topics = []examina.Topic{{Name: "Topic A"}, {Name: "Topic B"}, {Name: "Header"}}
		r, err := Score(labels, res, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		// invalid: tp 1 (p), fp 1 (4), fn 1 (h) → 2/4; merge: tp 0, fp 1 (2), fn 1 (1b) → 0.
		// Reference groups {1,1b} {2} {3} {4}: none reproduced ({1,2} is 1's group, 3 stands alone).
		// Topics of the groups 1, 2, 3, 4: A A B B against "topic a", "topic a", "topic b", dropped.
		if r.InvalidF1 != 0.5 || r.MergeF1 != 0 || r.GroupsExact != 0.25 || r.Topics != 3 || r.RefTopics != 2 {
			t.Errorf("report %+v", r)
		}
		if want := ARI([]string{"A", "A", "B", "B"}, []string{"topic a", "topic a", "topic b", "x"}); r.TopicARI != want {
			t.Errorf("topic ARI %v, want %v", r.TopicARI, want)
		}
		if want := 3.0 / 4; r.Coverage != want { // groups h, 1, 1b, 3: h below 0.5
			t.Errorf("coverage %v, want %v", r.Coverage, want)
		}
	})
	t.Run("mismatched result", func(t *testing.T) {
		if _, err := Score(labels, result([]any{"h", false, false}), 0); err == nil || !strings.Contains(err.Error(), "labelled course file") {
			t.Errorf("err %v", err)
		}
		res := result([]any{"h", false, false}, []any{"x", false, false}, []any{"1b", false, false}, []any{"2", false, false},
			[]any{"p", false, false}, []any{"3", false, false}, []any{"4", false, false})
		if _, err := Score(labels, res, 0); err == nil || !strings.Contains(err.Error(), `"1"`) {
			t.Errorf("err %v", err)
		}
	})
}

// TestLabelledCourses checks that every labels file under testdata/courses parses and
// names exactly the items of its course file, in order.
func TestLabelledCourses(t *testing.T) {
	paths, err := filepath.Glob("../../testdata/courses/*.labels.json")
	if err != nil || len(paths) < 4 {
		t.Fatalf("%d labelled courses (%v), want at least 4", len(paths), err)
	}
	splits := map[string]int{}
	for _, p := range paths {
		l, err := ReadLabels(p)
		if err != nil {
			t.Fatal(err)
		}
		splits[l.Split]++
		b, err := os.ReadFile(strings.TrimSuffix(p, ".labels.json") + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var cf examina.CourseFile
		if err := json.Unmarshal(b, &cf); err != nil {
			t.Fatal(err)
		}
		if len(cf.Exercises) != len(l.Items) {
			t.Fatalf("%s: %d labels for %d items", p, len(l.Items), len(cf.Exercises))
		}
		for i, e := range cf.Exercises {
			if e.ID != l.Items[i].ID {
				t.Errorf("%s: item %d is %q in the course, %q in the labels", p, i, e.ID, l.Items[i].ID)
			}
		}
	}
	if splits["train"] == 0 || splits["heldout"] == 0 || len(splits) != 2 {
		t.Errorf("splits %v: want train and heldout courses only", splits)
	}
}

// FuzzParseLabels: any input is either rejected or gives labels that satisfy the
// rules ParseLabels promises.
func FuzzParseLabels(f *testing.F) {
	f.Add([]byte(`{"course":"c","split":"train","items":[{"id":"a","kind":"exercise","topic":"t","core_loop":"l"},{"id":"b","kind":"fragment"}]}`))
	f.Add([]byte(`{"items":[{"id":"a","kind":"fragment"}]}`))
	f.Add([]byte(`{"items":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLabels(b)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		open := false
		for i, it := range l.Items {
			if it.ID == "" || seen[it.ID] {
				t.Fatalf("item %d: bad id %q", i, it.ID)
			}
			seen[it.ID] = true
			switch it.Kind {
			case KindExercise:
				open = true
			case KindFragment:
				if !open {
					t.Fatalf("item %d: a fragment with no exercise before", i)
				}
			case KindInvalid:
			default:
				t.Fatalf("item %d: kind %q", i, it.Kind)
			}
		}
	})
}
