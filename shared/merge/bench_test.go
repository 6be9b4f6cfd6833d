package merge

import "testing"

func benchmarkBuild(b *testing.B, n int) {
	in := genCourse(42, n, 200)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Build(in, Options{})
	}
}

// BenchmarkBuild10k builds 10,000 analyses with the realistic mix of genCourse.
func BenchmarkBuild10k(b *testing.B) { benchmarkBuild(b, 10_000) }

// BenchmarkBuild100k builds 100,000 analyses with the realistic mix of genCourse.
func BenchmarkBuild100k(b *testing.B) { benchmarkBuild(b, 100_000) }

// BenchmarkBuildDistinctNames is a worst case: 20,000 analyses with 5,000 distinct
// topic names (and 15,000 core-loop names), few of which fold.
func BenchmarkBuildDistinctNames(b *testing.B) {
	in := genCourse(43, 20_000, 5_000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Build(in, Options{})
	}
}

// BenchmarkSimilarity compares two typical near-duplicate names.
func BenchmarkSimilarity(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Similarity("Simplify a Karnaugh Map", "simplify-a karnaugh maps")
	}
}
