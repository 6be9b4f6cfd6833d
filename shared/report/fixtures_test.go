package report_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
)

// adeResult is the result document of examples/ade.json analysed by the offline
// provider (testdata/README.md says how it was made).
func adeResult(t testing.TB) examina.Result {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "ade.result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res examina.Result
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatalf("testdata/ade.result.json: %v", err)
	}
	return res
}

// ok is a valid, confident analysis.
func ok(topic, loop string, conf float64, difficulty string, variations ...string) examina.Analysis {
	return examina.Analysis{IsValidExercise: true, Topic: topic, CoreLoopName: loop, CoreLoopID: examina.CoreLoopID(loop),
		Procedure:  []string{"Read the " + loop + " question", "1. Apply *the* rule", "Check the result"},
		Difficulty: difficulty, Variations: variations, Confidence: conf,
		Meta: examina.Meta{Status: examina.StatusOK, Attempts: 1, Provider: "openai", Model: "gpt-4o-mini"}}
}

// edgeResult is a result document with every case the report must show: merged
// fragments, a topic spelled two ways (folded by the merge), hostile text, a topic
// without core loop, a core loop without topic, degraded, low-confidence, unclassified
// and dropped exercises, and an exercise without a source. It is assembled by the
// product's own merge (pipeline.Assemble), so its topics and counts are real.
func edgeResult() examina.Result {
	type ex struct {
		id, number, text string
		page             int
		source           string
		a                examina.Analysis
	}
	frag := ok("Boolean algebra", "Karnaugh minimisation", 0.9, "easy")
	frag.ShouldMergeWithPrevious = true
	frag.IsFragment = true
	degraded := examina.DefaultAnalysis(`openai: HTTP 429: "Rate limit reached for gpt-4o-mini" after 3 attempts`)
	degraded.Attempts = 3
	invalid := examina.Analysis{IsValidExercise: false, Confidence: 0.9, Meta: examina.Meta{Status: examina.StatusOK}}
	noTopic := ok("", "Pipeline hazards", 0.8, "hard")
	loose := ok("Caches", "", 0.7, "medium")
	vague := ok("Vague things", "Guessing", 0.3, "medium")
	blank := ok("", "", 0.9, "medium")
	exs := []ex{
		{"s1-h", "", "Exam of 12 June 2024 — write your name on every sheet.", 1, "exams/EDG 2024-06-12.pdf", invalid},
		{"s1-1", "1", "Minimise f(a,b,c,d) = Σm(0,2,5,7) with a Karnaugh map.\nGive the SOP form.", 1, "exams/EDG 2024-06-12.pdf", ok("Boolean algebra", "Karnaugh minimisation", 0.9, "easy", "don't care conditions")},
		{"s1-1b", "1b", "b) Implement it with NAND gates only.", 2, "exams/EDG 2024-06-12.pdf", frag},
		{"s1-2", "2", "<script>alert('x')</script> Convert 13 | 7 to *binary* & [hex](http://evil.example/).\n# not a heading\n1. not a list", 2, "exams/EDG 2024-06-12.pdf", ok("Number systems", "Base conversion", 0.8, "easy", "two's complement", "Two's complement", "hexadecimal")},
		{"s1-3", "3", "A 4-way cache of 16 KiB with 64-byte blocks: split the address.", 3, "exams/EDG 2024-06-12.pdf", loose},
		{"s2-1", "1", "Simplify with a K-map the function given by its truth table.", 1, "exams/EDG 2024-09-14.pdf", ok("boolean-algebra", "Karnaugh minimisation", 0.95, "medium", "product of sums")},
		{"s2-2", "2", "Find the hazards of this 5-stage pipeline.", 1, "exams/EDG 2024-09-14.pdf", noTopic},
		{"s2-3", "3", "Convert 0.1 to IEEE 754 single precision.", 2, "exams/EDG 2024-09-14.pdf", degraded},
		{"s2-4", "4", "Discuss.", 2, "exams/EDG 2024-09-14.pdf", vague},
		{"s3-1", "1", "Minimise g with a Karnaugh map, then draw the circuit.", 1, "exams/EDG 2025-01-20.pdf", ok("Boolean Algebra", "Karnaugh minimisation", 0.85, "medium")},
		{"s3-2", "2", "Convert 200 to base 3.", 1, "exams/EDG 2025-01-20.pdf", ok("Number systems", "Base conversion", 0.7, "easy")},
		{"s3-3", "3", "Say something about computers.", 1, "exams/EDG 2025-01-20.pdf", blank},
		{"x-1", "", "An exercise whose source is unknown: convert 9 to binary.", 0, "", ok("Number systems", "Base conversion", 0.75, "easy")},
	}
	results := make([]examina.ExerciseResult, len(exs))
	for i, e := range exs {
		results[i] = examina.ExerciseResult{
			Exercise: examina.Exercise{ID: e.id, Number: e.number, Text: e.text, Page: e.page, Source: e.source, Position: i},
			Analysis: e.a,
		}
	}
	job := examina.Job{ID: "edg-0123456789ab", Course: examina.Course{Code: "EDG", Name: "Edge <cases> & more", Language: "en"},
		Provider: "openai", Model: "gpt-4o-mini", PromptVersion: "examina-analysis/v1"}
	res := pipeline.Assemble(job, results, 0.5)
	res.Stats.ProviderCalls = 15
	res.Stats.Retries = 2
	res.Stats.InputTokens = 12345
	res.Stats.OutputTokens = 2345
	res.Stats.ElapsedMS = 4200
	return res
}
