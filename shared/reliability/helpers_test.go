package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/bolt"
	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

// templates are exercise texts of an English computer-architecture course; %d makes
// every generated text distinct, so no two exercises share a cache key. Some are
// fragments ("b) ...") and some are exam instructions, so the merge and the invalid
// path are exercised too.
var templates = []string{
	"Exercise %d. Minimise the Boolean function f(a,b,c,d) = Σm(0,2,5,7,8,10,13,15) with a Karnaugh map and write the minimal sum of products.",
	"b) Implement the function of exercise %d using only two-input NAND gates and compute its delay, assuming 1 ns per gate.",
	"Exercise %d. A direct-mapped cache has 64 lines of 16 bytes. Compute the hit rate for the access sequence 0, 4, 64, 1024, 0, 68.",
	"Exercise %d. Design a Mealy finite state machine that recognises the sequence 1011 with overlaps; draw the state diagram and the transition table.",
	"Exercise %d. Convert -37 and 54 to two's complement on 8 bits, add them and state whether overflow occurs.",
	"Exam instructions (session %d): write your name on every sheet. Calculators are not allowed. Duration: 2 hours.",
	"Exercise %d. Write a MIPS assembly procedure that returns the sum of an array of n integers; follow the calling convention.",
	"c) For the circuit of exercise %d, compute the critical path and the maximum clock frequency.",
	"Exercise %d. A 5-stage pipeline executes the given sequence of instructions: identify every data hazard and insert the forwarding paths needed.",
	"Exercise %d. Compute the average memory access time of a two-level cache hierarchy with hit times of 1 and 10 cycles and a main memory of 100 cycles.",
}

// generateCourse returns a validated course of n exercises, built by course.Parse from
// a generated JSON course file, as the CLI would read it.
func generateCourse(t testing.TB, n int) examina.CourseFile {
	t.Helper()
	type ex struct {
		Text string `json:"text"`
	}
	doc := struct {
		Course    examina.Course `json:"course"`
		Exercises []ex           `json:"exercises"`
	}{Course: examina.Course{Code: "CA", Name: "Computer Architecture", Language: "en"}}
	for i := range n {
		doc.Exercises = append(doc.Exercises, ex{Text: fmt.Sprintf(templates[i%len(templates)], i+1)})
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := course.Parse(data, "generated.json", course.Options{})
	if err != nil {
		t.Fatalf("generated course rejected: %v", err)
	}
	if len(cf.Exercises) != n {
		t.Fatalf("generated %d exercises, want %d", len(cf.Exercises), n)
	}
	return cf
}

// openStore opens a bolt store in a fresh temporary directory, closed at the end of
// the test.
func openStore(t testing.TB, dir string) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(context.Background(), dir, bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// tally is a pipeline.Progress that counts how often each exercise was reported done.
type tally struct {
	mu               sync.Mutex
	total, resumed   int
	todo             int
	done             map[string]int
	started, finishd int
}

func (p *tally) Start(total, resumed, todo int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started++
	p.total, p.resumed, p.todo = total, resumed, todo
	p.done = map[string]int{}
}

func (p *tally) Done(r examina.ExerciseResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[r.ID]++
}

func (p *tally) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishd++
}

// checkAccounted asserts that results hold exactly one result per exercise of cf, in
// position order, with the input's id, number and text: nothing missing, nothing twice,
// nothing foreign. It returns the number of ok (or cached) and degraded results.
func checkAccounted(t testing.TB, cf examina.CourseFile, results []examina.ExerciseResult) (ok, degraded int) {
	t.Helper()
	if len(results) != len(cf.Exercises) {
		t.Errorf("%d results for %d exercises", len(results), len(cf.Exercises))
	}
	seen := map[string]int{}
	for i, r := range results {
		if j, dup := seen[r.ID]; dup {
			t.Errorf("exercise %s counted twice (results %d and %d)", r.ID, j, i)
		}
		seen[r.ID] = i
		if i >= len(cf.Exercises) {
			t.Errorf("extra result %d: %s", i, r.ID)
			continue
		}
		in := cf.Exercises[i]
		if r.Position != i || r.ID != in.ID || r.Text != in.Text || r.Number != in.Number {
			t.Errorf("result %d is (%d, %s), want the input's (%d, %s)", i, r.Position, r.ID, in.Position, in.ID)
		}
		switch r.Analysis.Status {
		case examina.StatusOK, examina.StatusCached:
			ok++
		case examina.StatusDegraded:
			degraded++
		default:
			t.Errorf("result %d has status %q", i, r.Analysis.Status)
		}
	}
	for _, in := range cf.Exercises {
		if _, found := seen[in.ID]; !found {
			t.Errorf("exercise %s (position %d) missing", in.ID, in.Position)
		}
	}
	if ok+degraded != len(cf.Exercises) {
		t.Errorf("ok %d + degraded %d != %d exercises", ok, degraded, len(cf.Exercises))
	}
	return ok, degraded
}

// checkMergedCover asserts that the merged groups of a result document, together with
// the exercises dropped as not valid, cover every exercise exactly once, and that the
// groups keep the input's order.
func checkMergedCover(t testing.TB, cf examina.CourseFile, res examina.Result) {
	t.Helper()
	pos := map[string]int{}
	for _, ex := range cf.Exercises {
		pos[ex.ID] = ex.Position
	}
	count := map[string]int{}
	last := -1
	for _, m := range res.MergedExercises {
		for _, id := range m.MergedFrom {
			p, known := pos[id]
			if !known {
				t.Errorf("merged group %s holds unknown exercise %s", m.ID, id)
				continue
			}
			if p <= last {
				t.Errorf("merged member %s at position %d comes after position %d", id, p, last)
			}
			last = p
			count[id]++
		}
	}
	invalid := 0
	for _, r := range res.Exercises {
		if !r.Analysis.IsValidExercise {
			count[r.ID]++
			invalid++
		}
	}
	if invalid != res.Stats.Invalid {
		t.Errorf("%d invalid exercises, stats say %d", invalid, res.Stats.Invalid)
	}
	for _, ex := range cf.Exercises {
		if count[ex.ID] != 1 {
			t.Errorf("exercise %s appears %d times in the merged groups and the invalid ones", ex.ID, count[ex.ID])
		}
	}
}
