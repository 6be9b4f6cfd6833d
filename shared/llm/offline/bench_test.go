package offline_test

import (
	"testing"

	"github.com/examina-dev/examina-serverless/shared/bench"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
)

// BenchmarkLearn10k learns the model of the 10,000-exercise generated course of the
// overhead scenario: the whole cost of the offline analyzer for such a course.
func BenchmarkLearn10k(b *testing.B) {
	cf := bench.Course(10000, 3)
	b.ReportAllocs()
	for b.Loop() {
		offline.Learn(cf.Course.Language, cf.Exercises)
	}
}

// BenchmarkAnalyze10k analyses the same course one exercise at a time with only the
// previous exercise as context, as the cloud's analyze function does.
func BenchmarkAnalyze10k(b *testing.B) {
	cf := bench.Course(10000, 3)
	b.ReportAllocs()
	for b.Loop() {
		prev := ""
		for _, e := range cf.Exercises {
			offline.Analyze("it", e.Text, prev)
			prev = e.Text
		}
	}
}
