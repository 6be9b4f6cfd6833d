package merge

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// words feeds the synthetic topic and core-loop names of genCourse.
var words = strings.Fields(`karnaugh map cache memory pipeline hazard branch predictor
	finite state machine boolean algebra flip flop register file virtual paging tlb
	interrupt handler bus arbitration floating point adder multiplier divider assembly
	mips risc instruction encoding addressing mode stack frame recursion linked list
	binary tree heap sort merge quick graph traversal shortest path spanning scheduling
	deadlock semaphore mutex thread process signal socket protocol routing subnet`)

// genNames returns n distinct names of two or three words.
func genNames(rng *rand.Rand, n int, prefix string) []string {
	seen := make(map[string]bool)
	out := make([]string, 0, n)
	for len(out) < n {
		k := 2 + rng.IntN(2)
		parts := make([]string, k)
		for i := range parts {
			w := words[rng.IntN(len(words))]
			parts[i] = strings.ToUpper(w[:1]) + w[1:]
		}
		name := prefix + strings.Join(parts, " ")
		if !seen[strings.ToLower(name)] {
			seen[strings.ToLower(name)] = true
			out = append(out, name)
		}
	}
	return out
}

// variant returns a near-duplicate spelling of name now and then, as models produce.
func variant(rng *rand.Rand, name string) string {
	switch rng.IntN(10) {
	case 0:
		return strings.ToLower(name)
	case 1:
		if strings.HasSuffix(name, "s") {
			return strings.TrimSuffix(name, "s")
		}
		return name + "s"
	case 2:
		return strings.ReplaceAll(name, " ", "-")
	case 3:
		return "  " + strings.ToUpper(name) + " "
	}
	return name
}

// genCourse returns n analysed exercises in shuffled order with the mix of the
// benchmarks: ~10% invalid, ~20% merge-with-previous, ~5% low confidence, `topics`
// distinct topic names (three core loops each) spelt with near-duplicate variants.
func genCourse(seed uint64, n, topics int) []examina.ExerciseResult {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	topicNames := genNames(rng, topics, "")
	loopNames := make([][]string, topics)
	for i := range loopNames {
		loopNames[i] = genNames(rng, 3, "Solve ")
	}
	texts := make([]string, 16)
	for i := range texts {
		texts[i] = strings.Repeat(fmt.Sprintf("Exercise body %d. ", i), 10)
	}
	procedure := []string{"read the statement", "apply the method", "check the result"}
	out := make([]examina.ExerciseResult, n)
	for i := range out {
		t := rng.IntN(topics)
		a := examina.Analysis{
			IsValidExercise:         rng.IntN(10) != 0,
			ShouldMergeWithPrevious: rng.IntN(5) == 0,
			Topic:                   variant(rng, topicNames[t]),
			CoreLoopName:            variant(rng, loopNames[t][rng.IntN(3)]),
			Procedure:               procedure,
			Difficulty:              examina.DifficultyMedium,
			Confidence:              0.6 + 0.4*rng.Float64(),
			Meta:                    examina.Meta{Status: examina.StatusOK},
		}
		a.IsFragment = a.ShouldMergeWithPrevious
		if rng.IntN(20) == 0 {
			a.Confidence = 0.3 * rng.Float64()
		}
		out[i] = examina.ExerciseResult{
			Exercise: examina.Exercise{ID: fmt.Sprintf("ex-%06d", i), Number: fmt.Sprint(i + 1), Text: texts[i%len(texts)], Position: i},
			Analysis: a,
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
