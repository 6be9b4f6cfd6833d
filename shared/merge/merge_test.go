package merge

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// ok is a valid stand-alone analysis.
func ok(topic, loop string, confidence float64) examina.Analysis {
	return examina.Analysis{
		IsValidExercise: true,
		Topic:           topic,
		CoreLoopName:    loop,
		Procedure:       []string{"step for " + loop},
		Confidence:      confidence,
	}
}

// glue is a valid analysis that should merge with the previous exercise.
func glue() examina.Analysis {
	a := ok("Glued", "Glued Loop", 0.9)
	a.IsFragment, a.ShouldMergeWithPrevious = true, true
	return a
}

// bad is an analysis that is not a valid exercise (even if it says merge).
func bad() examina.Analysis {
	return examina.Analysis{IsValidExercise: false, ShouldMergeWithPrevious: true, Topic: "Noise", Confidence: 1}
}

func res(id string, pos int, a examina.Analysis) examina.ExerciseResult {
	return examina.ExerciseResult{
		Exercise: examina.Exercise{ID: id, Position: pos, Text: "text " + id},
		Analysis: a,
	}
}

func TestBuildMerge(t *testing.T) {
	fragmentOnly := ok("T", "L", 0.9)
	fragmentOnly.IsFragment = true
	tests := []struct {
		name        string
		in          []examina.ExerciseResult
		wantGroups  [][]string // MergedFrom of each group
		wantTexts   []string
		wantPos     []int
		wantInvalid int
	}{
		{name: "empty course", in: nil, wantGroups: [][]string{}},
		{name: "single", in: []examina.ExerciseResult{res("a", 0, ok("T", "L", 0.9))},
			wantGroups: [][]string{{"a"}}, wantTexts: []string{"text a"}, wantPos: []int{0}},
		{name: "invalid inside open group does not close it",
			in:         []examina.ExerciseResult{res("a", 0, ok("T", "L", 0.9)), res("b", 1, bad()), res("c", 2, glue())},
			wantGroups: [][]string{{"a", "c"}}, wantTexts: []string{"text a\n\ntext c"}, wantPos: []int{0}, wantInvalid: 1},
		{name: "fragment at position 0 starts its own group",
			in:         []examina.ExerciseResult{res("a", 0, glue()), res("b", 1, ok("T", "L", 0.9))},
			wantGroups: [][]string{{"a"}, {"b"}}, wantTexts: []string{"text a", "text b"}, wantPos: []int{0, 1}},
		{name: "fragment after only invalid exercises starts its own group",
			in:         []examina.ExerciseResult{res("a", 0, bad()), res("b", 1, glue()), res("c", 2, glue())},
			wantGroups: [][]string{{"b", "c"}}, wantTexts: []string{"text b\n\ntext c"}, wantPos: []int{1}, wantInvalid: 1},
		{name: "chain of fragments glued",
			in: []examina.ExerciseResult{res("a", 0, ok("T", "L", 0.9)), res("b", 1, glue()), res("c", 2, glue()),
				res("d", 3, ok("U", "M", 0.9))},
			wantGroups: [][]string{{"a", "b", "c"}, {"d"}}, wantTexts: []string{"text a\n\ntext b\n\ntext c", "text d"},
			wantPos: []int{0, 3}},
		{name: "IsFragment alone does not merge",
			in:         []examina.ExerciseResult{res("a", 0, ok("T", "L", 0.9)), res("b", 1, fragmentOnly)},
			wantGroups: [][]string{{"a"}, {"b"}}},
		{name: "all invalid",
			in:         []examina.ExerciseResult{res("a", 0, bad()), res("b", 1, bad()), res("c", 2, bad())},
			wantGroups: [][]string{}, wantInvalid: 3},
		{name: "unsorted input walked by position",
			in: []examina.ExerciseResult{res("c", 7, glue()), res("a", 2, ok("T", "L", 0.9)), res("d", 9, ok("U", "M", 0.9)),
				res("b", 5, bad())},
			wantGroups: [][]string{{"a", "c"}, {"d"}}, wantTexts: []string{"text a\n\ntext c", "text d"},
			wantPos: []int{2, 9}, wantInvalid: 1},
		{name: "equal positions ordered by id",
			in:         []examina.ExerciseResult{res("b", 0, glue()), res("a", 0, ok("T", "L", 0.9))},
			wantGroups: [][]string{{"a", "b"}}},
		{name: "degraded analysis forms its own group",
			in: []examina.ExerciseResult{res("a", 0, ok("T", "L", 0.9)),
				{Exercise: examina.Exercise{ID: "b", Position: 1}, Analysis: examina.DefaultAnalysis("timeout")}},
			wantGroups: [][]string{{"a"}, {"b"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := Build(tc.in, Options{})
			if out.Merged == nil {
				t.Fatal("Merged is nil")
			}
			var groups [][]string = [][]string{}
			var texts []string
			var pos []int
			for _, g := range out.Merged {
				groups = append(groups, g.MergedFrom)
				texts = append(texts, g.Text)
				pos = append(pos, g.Position)
				if g.ID != g.MergedFrom[0] {
					t.Errorf("group id %q, first member %q", g.ID, g.MergedFrom[0])
				}
			}
			if !reflect.DeepEqual(groups, tc.wantGroups) {
				t.Errorf("groups = %q, want %q", groups, tc.wantGroups)
			}
			if tc.wantTexts != nil && !reflect.DeepEqual(texts, tc.wantTexts) {
				t.Errorf("texts = %q, want %q", texts, tc.wantTexts)
			}
			if tc.wantPos != nil && !reflect.DeepEqual(pos, tc.wantPos) {
				t.Errorf("positions = %v, want %v", pos, tc.wantPos)
			}
			if out.Invalid != tc.wantInvalid {
				t.Errorf("Invalid = %d, want %d", out.Invalid, tc.wantInvalid)
			}
		})
	}
}

func TestBuildGroupAnalysisIsFirstMember(t *testing.T) {
	first := ok("Karnaugh Maps", "Simplify", 0.9)
	out := Build([]examina.ExerciseResult{res("a", 0, first), res("b", 1, glue())}, Options{})
	first.Variations = []string{} // nil lists come out empty, so JSON shows []
	if len(out.Merged) != 1 {
		t.Fatalf("got %d groups, want 1", len(out.Merged))
	}
	if !reflect.DeepEqual(out.Merged[0].Analysis, first) {
		t.Errorf("group analysis = %+v, want %+v", out.Merged[0].Analysis, first)
	}
	if len(out.Topics) != 1 || out.Topics[0].Name != "Karnaugh Maps" || out.Topics[0].ExerciseCount != 1 {
		t.Errorf("topics = %+v, want only Karnaugh Maps x1 (glued members do not count)", out.Topics)
	}
}

func TestBuildConfidence(t *testing.T) {
	in := []examina.ExerciseResult{
		res("a", 0, ok("T", "L", 0.5)),
		res("b", 1, ok("T", "L", math.Nextafter(0.5, 0))),
		res("c", 2, ok("T", "L", math.NaN())),
		res("d", 3, ok("T", "L", 1)),
		res("e", 4, ok("", "", 0.9)),   // above threshold, nothing to aggregate
		res("f", 5, ok(" ", " ", 0.1)), // below threshold: skipped even though blank
		res("g", 6, ok("T", "L", 0)),
	}
	tests := []struct {
		name        string
		opts        Options
		wantCount   int
		wantSkipped int
		wantEx      []string
	}{
		{name: "default threshold, exactly 0.5 aggregated", opts: Options{}, wantCount: 2, wantSkipped: 4, wantEx: []string{"a", "d"}},
		{name: "NaN option selects the default", opts: Options{MinConfidence: math.NaN()}, wantCount: 2, wantSkipped: 4, wantEx: []string{"a", "d"}},
		{name: "explicit 0.5", opts: Options{MinConfidence: DefaultMinConfidence}, wantCount: 2, wantSkipped: 4, wantEx: []string{"a", "d"}},
		{name: "higher threshold", opts: Options{MinConfidence: 0.95}, wantCount: 1, wantSkipped: 6, wantEx: []string{"d"}},
		{name: "negative aggregates all but NaN", opts: Options{MinConfidence: -1}, wantCount: 4, wantSkipped: 1, wantEx: []string{"a", "b", "d", "g"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := Build(in, tc.opts)
			if out.LowConfidenceSkipped != tc.wantSkipped {
				t.Errorf("LowConfidenceSkipped = %d, want %d", out.LowConfidenceSkipped, tc.wantSkipped)
			}
			if len(out.Topics) != 1 || out.Topics[0].ExerciseCount != tc.wantCount {
				t.Fatalf("topics = %+v, want T x%d", out.Topics, tc.wantCount)
			}
			if len(out.CoreLoops) != 1 || !reflect.DeepEqual(out.CoreLoops[0].Exercises, tc.wantEx) {
				t.Fatalf("core loops = %+v, want exercises %q", out.CoreLoops, tc.wantEx)
			}
		})
	}
}

// topicCounts renders topics as "name=count" for compact comparisons.
func topicCounts(ts []examina.Topic) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.Name+"="+strconv.Itoa(t.ExerciseCount))
	}
	return out
}

var (
	a16 = strings.Repeat("a", 16)
	a20 = strings.Repeat("a", 20)
)

func TestBuildFolding(t *testing.T) {
	cacheSim := Similarity("Cache", "Caches")
	if math.Abs(cacheSim-(1-1.0/6)) > 1e-12 {
		t.Fatalf("Similarity(Cache, Caches) = %v, want 1-1/6", cacheSim)
	}
	tests := []struct {
		name   string
		topics []string
		opts   Options
		want   []string
	}{
		{name: "Karnaugh variants fold into the first spelling",
			topics: []string{"Karnaugh Map", "karnaugh maps", "Karnaugh-Maps", "KARNAUGH_MAP "},
			want:   []string{"Karnaugh Map=4"}},
		{name: "Cache vs Caches at the default threshold",
			topics: []string{"Cache", "Caches"},
			want: func() []string {
				if cacheSim >= DefaultSimilarity {
					return []string{"Cache=2"}
				}
				return []string{"Cache=1", "Caches=1"}
			}()},
		{name: "Cache vs Caches at their computed similarity", topics: []string{"Cache", "Caches"},
			opts: Options{Similarity: cacheSim}, want: []string{"Cache=2"}},
		{name: "Cache vs Caches just above their similarity", topics: []string{"Cache", "Caches"},
			opts: Options{Similarity: math.Nextafter(cacheSim, 1)}, want: []string{"Cache=1", "Caches=1"}},
		{name: "clearly different names stay apart",
			topics: []string{"Cache", "Pipelining", "Karnaugh Maps", "Boolean Algebra"},
			want:   []string{"Cache=1", "Pipelining=1", "Karnaugh Maps=1", "Boolean Algebra=1"}},
		{name: "threshold above 1 folds only equal normalised names",
			topics: []string{"Karnaugh Map", "karnaugh-map", "Karnaugh Maps"}, opts: Options{Similarity: 1.5},
			want: []string{"Karnaugh Map=2", "Karnaugh Maps=1"}},
		{name: "negative threshold folds everything into the first",
			topics: []string{"Cache", "Pipelining", "Karnaugh Maps"}, opts: Options{Similarity: -1},
			want: []string{"Cache=3"}},
		{name: "a name joins the most similar canonical name",
			// A and B are 0.8 apart (two canonical names); X is 0.85 from A, 0.95 from B.
			topics: []string{a20, "bbbb" + a16, "bbba" + a16},
			want:   []string{"bbbb" + a16 + "=2", a20 + "=1"}},
		{name: "ties go to the earliest canonical name",
			// X is 0.9 from both A and B.
			topics: []string{a20, "bbbb" + a16, "bbaa" + a16},
			want:   []string{a20 + "=2", "bbbb" + a16 + "=1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in []examina.ExerciseResult
			for i, name := range tc.topics {
				in = append(in, res(strconv.Itoa(i), i, ok(name, "", 0.9)))
			}
			out := Build(in, tc.opts)
			if got := topicCounts(out.Topics); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("topics = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBuildCoreLoops(t *testing.T) {
	in := []examina.ExerciseResult{
		res("e0", 0, ok("Karnaugh Maps", "Simplify a Karnaugh Map", 0.9)),
		res("e1", 1, ok("karnaugh map", "simplify a karnaugh maps", 0.9)), // both fold
		res("e2", 2, ok("Boolean Algebra", "Simplify-a-Karnaugh-Map", 0.9)),
		res("e3", 3, ok("Boolean Algebra", "Apply De Morgan", 0.8)),
		res("e4", 4, ok("Boolean Algebra", "Apply De Morgan", 0.8)),
		res("e5", 5, func() examina.Analysis {
			a := ok("Caches", "Whatever the name", 0.8)
			a.CoreLoopID = "apply_de_morgan" // explicit id wins over the name
			return a
		}()),
		res("e6", 6, ok("Caches", "", 0.8)), // topic only
		res("e7", 7, ok("", "Compute Hit Rate", 0.8)),
	}
	out := Build(in, Options{})
	wantTopics := []examina.Topic{
		{Name: "Boolean Algebra", ExerciseCount: 3, CoreLoops: []string{"simplify_a_karnaugh_map", "apply_de_morgan"}},
		{Name: "Karnaugh Maps", ExerciseCount: 2, CoreLoops: []string{"simplify_a_karnaugh_map"}},
		{Name: "Caches", ExerciseCount: 2, CoreLoops: []string{"apply_de_morgan"}},
	}
	wantLoops := []examina.CoreLoop{
		{ID: "simplify_a_karnaugh_map", Name: "Simplify a Karnaugh Map", Topic: "Karnaugh Maps",
			Procedure: []string{"step for Simplify a Karnaugh Map"}, ExerciseCount: 3, Exercises: []string{"e0", "e1", "e2"}},
		{ID: "apply_de_morgan", Name: "Apply De Morgan", Topic: "Boolean Algebra",
			Procedure: []string{"step for Apply De Morgan"}, ExerciseCount: 3, Exercises: []string{"e3", "e4", "e5"}},
		{ID: "compute_hit_rate", Name: "Compute Hit Rate", Topic: "",
			Procedure: []string{"step for Compute Hit Rate"}, ExerciseCount: 1, Exercises: []string{"e7"}},
	}
	if !reflect.DeepEqual(out.Topics, wantTopics) {
		t.Errorf("topics =\n%+v\nwant\n%+v", out.Topics, wantTopics)
	}
	if !reflect.DeepEqual(out.CoreLoops, wantLoops) {
		t.Errorf("core loops =\n%+v\nwant\n%+v", out.CoreLoops, wantLoops)
	}
}

func TestBuildFoldedCoreLoopIDsAreCanonical(t *testing.T) {
	// The folded spelling has its own id (sum_of_products_form); topics must list only
	// the canonical one even when the folded spelling is the only one under a topic.
	in := []examina.ExerciseResult{
		res("a", 0, ok("Logic", "Sum of Products Form", 0.9)),
		res("b", 1, ok("Circuits", "Sum-of-Product Form", 0.9)),
		res("c", 2, ok("Logic", "sum of products forms", 0.9)),
	}
	out := Build(in, Options{})
	if len(out.CoreLoops) != 1 || out.CoreLoops[0].ID != "sum_of_products_form" || out.CoreLoops[0].ExerciseCount != 3 {
		t.Fatalf("core loops = %+v, want one sum_of_products_form x3", out.CoreLoops)
	}
	for _, tp := range out.Topics {
		if !reflect.DeepEqual(tp.CoreLoops, []string{"sum_of_products_form"}) {
			t.Errorf("topic %q core loops = %q, want [sum_of_products_form]", tp.Name, tp.CoreLoops)
		}
	}
}

func TestBuildOrdering(t *testing.T) {
	var in []examina.ExerciseResult
	for i, name := range []string{"Alpha", "Bravo", "Charlie", "Bravo", "Delta", "Charlie", "Bravo", "Echo"} {
		in = append(in, res(strconv.Itoa(i), i, ok(name, name+" Loop", 0.9)))
	}
	out := Build(in, Options{})
	want := []string{"Bravo=3", "Charlie=2", "Alpha=1", "Delta=1", "Echo=1"}
	if got := topicCounts(out.Topics); !reflect.DeepEqual(got, want) {
		t.Errorf("topics = %q, want %q", got, want)
	}
	var loops []string
	for _, l := range out.CoreLoops {
		loops = append(loops, l.ID)
	}
	wantLoops := []string{"bravo_loop", "charlie_loop", "alpha_loop", "delta_loop", "echo_loop"}
	if !reflect.DeepEqual(loops, wantLoops) {
		t.Errorf("core loops = %q, want %q", loops, wantLoops)
	}
}

func TestBuildEmptySlicesMarshalAsArrays(t *testing.T) {
	for _, in := range [][]examina.ExerciseResult{nil, {res("a", 0, bad())},
		{{Exercise: examina.Exercise{ID: "x"}, Analysis: examina.Analysis{IsValidExercise: true, Topic: "T", CoreLoopName: "L", Confidence: 1}}}} {
		out := Build(in, Options{})
		if out.Merged == nil || out.Topics == nil || out.CoreLoops == nil {
			t.Fatalf("nil output slice in %+v", out)
		}
		for _, tp := range out.Topics {
			if tp.CoreLoops == nil {
				t.Errorf("topic %q has nil CoreLoops", tp.Name)
			}
		}
		for _, l := range out.CoreLoops {
			if l.Procedure == nil || l.Exercises == nil {
				t.Errorf("core loop %q has nil slices", l.ID)
			}
		}
		b, err := json.Marshal(struct {
			M []examina.MergedExercise `json:"m"`
			T []examina.Topic          `json:"t"`
			C []examina.CoreLoop       `json:"c"`
		}{out.Merged, out.Topics, out.CoreLoops})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "null") {
			t.Errorf("JSON has null: %s", b)
		}
	}
}

func TestBuildDoesNotModifyOrAliasInput(t *testing.T) {
	in := genCourse(1, 300, 20)
	snapshot := deepCopy(t, in)
	out := Build(in, Options{})
	if !reflect.DeepEqual(in, snapshot) {
		t.Fatal("Build modified its input")
	}
	// Writing into the output must not reach the input.
	for i := range out.Merged {
		for j := range out.Merged[i].Analysis.Procedure {
			out.Merged[i].Analysis.Procedure[j] = "changed"
		}
	}
	for i := range out.CoreLoops {
		for j := range out.CoreLoops[i].Procedure {
			out.CoreLoops[i].Procedure[j] = "changed"
		}
	}
	if !reflect.DeepEqual(in, snapshot) {
		t.Fatal("output aliases the input's slices")
	}
}

func deepCopy(t *testing.T, in []examina.ExerciseResult) []examina.ExerciseResult {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out []examina.ExerciseResult
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBuildDeterministicOverShuffles(t *testing.T) {
	in := genCourse(2, 1000, 40)
	want := Build(in, Options{})
	rng := rand.New(rand.NewPCG(3, 4))
	shuffled := slices.Clone(in)
	for i := range 30 {
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := Build(shuffled, Options{}); !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffle %d: output differs", i)
		}
	}
}

func TestBuildProperties(t *testing.T) {
	for seed := range uint64(40) {
		n := int(seed * 37 % 400)
		in := genCourse(seed, n, 1+int(seed%30))
		out := Build(in, Options{})
		seen := make(map[string]int)
		members := 0
		for gi, g := range out.Merged {
			members += len(g.MergedFrom)
			for _, id := range g.MergedFrom {
				seen[id]++
			}
			if gi > 0 && g.Position < out.Merged[gi-1].Position {
				t.Errorf("seed %d: groups out of position order", seed)
			}
		}
		for _, r := range in {
			if !r.Analysis.IsValidExercise {
				seen[r.ID]++
			}
		}
		if members+out.Invalid != len(in) {
			t.Errorf("seed %d: members %d + invalid %d != %d", seed, members, out.Invalid, len(in))
		}
		for _, r := range in {
			if seen[r.ID] != 1 {
				t.Errorf("seed %d: id %s seen %d times", seed, r.ID, seen[r.ID])
			}
		}
		aggregated := 0
		for _, g := range out.Merged {
			if g.Analysis.Confidence >= DefaultMinConfidence {
				aggregated++
			}
		}
		if aggregated+out.LowConfidenceSkipped != len(out.Merged) {
			t.Errorf("seed %d: aggregated %d + skipped %d != groups %d", seed, aggregated, out.LowConfidenceSkipped, len(out.Merged))
		}
		topicTotal, loopTotal := 0, 0
		for _, tp := range out.Topics {
			topicTotal += tp.ExerciseCount
		}
		inLoop := make(map[string]bool)
		for _, l := range out.CoreLoops {
			loopTotal += l.ExerciseCount
			if len(l.Exercises) != l.ExerciseCount {
				t.Errorf("seed %d: loop %s count %d, %d exercises", seed, l.ID, l.ExerciseCount, len(l.Exercises))
			}
			for _, id := range l.Exercises {
				if inLoop[id] {
					t.Errorf("seed %d: group %s in two core loops", seed, id)
				}
				inLoop[id] = true
			}
		}
		// Every generated group has a topic and a core loop name.
		if topicTotal != aggregated || loopTotal != aggregated {
			t.Errorf("seed %d: topic total %d, loop total %d, aggregated %d", seed, topicTotal, loopTotal, aggregated)
		}
		for i := 1; i < len(out.Topics); i++ {
			if out.Topics[i].ExerciseCount > out.Topics[i-1].ExerciseCount {
				t.Errorf("seed %d: topics not by descending count", seed)
			}
		}
		// No two canonical names are similar enough to have been folded together... unless
		// the later one was closer to another canonical name; at least none is equal.
		names := make(map[string]bool)
		for _, tp := range out.Topics {
			k := string(appendNormalized(nil, tp.Name))
			if names[k] {
				t.Errorf("seed %d: topic %q appears twice", seed, tp.Name)
			}
			names[k] = true
		}
	}
}
